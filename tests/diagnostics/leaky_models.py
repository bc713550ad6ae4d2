"""Small plain-torch models with known causal structure, for the leak audit tests.

Every model maps ids ``(batch, time)`` to logits ``(batch, time, vocab)`` or a dict of them.
Causal ones must pass their contract; the leaky ones say in their docstring where they leak.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def go_backwards(rnn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Keras ``go_backwards=True``: read right to left, return outputs in *processing* order.

    x: ``(batch, time, features)``. Output row s is the state after reading x[T-1], ..., x[T-1-s],
    i.e. it belongs to input position T-1-s: the result is reversed relative to the input.
    """
    outputs, _ = rnn(x.flip(1))
    return outputs


class CausalLM(nn.Module):
    """embedding -> nn.LSTM/GRU/RNN -> linear: output t sees tokens 0..t (contract "forward")."""

    def __init__(self, vocab: int, emb: int, hidden: int, cell: str = "lstm", layers: int = 1):
        super().__init__()
        rnn_class = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        self.embedding = nn.Embedding(vocab, emb)
        self.rnn = rnn_class(emb, hidden, num_layers=layers, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.rnn(self.embedding(ids))
        return self.decoder(outputs)


class BidirectionalNextWord(nn.Module):
    """A bidirectional nn.LSTM used for next-word prediction: output t sees every token (leak)."""

    def __init__(self, vocab: int, emb: int, hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hidden, batch_first=True, bidirectional=True)
        self.decoder = nn.Linear(2 * hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.rnn(self.embedding(ids))
        return self.decoder(outputs)


class Seed000Model(nn.Module):
    """Seed 000's bidirectional next-word model, with its bug on request.

    Each stack: LSTM1 -> dense(embedding) + LSTM1 output -> LSTM2; one shared softmax layer.
    The backward stack runs both LSTMs Keras-style (``go_backwards``), so their outputs come
    back in processing order and must be flipped to input order before use:

        leaky (flip_lstm1=False): LSTM1 output row s belongs to token T-1-s, but it is added to
        dense(embedding) row s (token s), so LSTM2 at position t sees tokens < t through it.

    Returns {"forward": (batch, time, vocab), "backward": (batch, time, vocab)}; forward at t
    predicts token t+1 from tokens <= t, backward at t predicts token t-1 from tokens >= t.
    """

    def __init__(
        self, vocab: int, emb: int, hidden: int, flip_lstm1: bool = True, flip_lstm2: bool = True
    ):
        super().__init__()
        self.flip_lstm1 = flip_lstm1
        self.flip_lstm2 = flip_lstm2
        self.embedding = nn.Embedding(vocab, emb)
        self.forward_lstm1 = nn.LSTM(emb, hidden, batch_first=True)
        self.forward_lstm2 = nn.LSTM(hidden, hidden, batch_first=True)
        self.forward_skip = nn.Linear(emb, hidden)
        self.backward_lstm1 = nn.LSTM(emb, hidden, batch_first=True)
        self.backward_lstm2 = nn.LSTM(hidden, hidden, batch_first=True)
        self.backward_skip = nn.Linear(emb, hidden)
        self.softmax_layer = nn.Linear(hidden, vocab)  # shared by both directions

    def forward(self, ids: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.embedding(ids)
        forward1, _ = self.forward_lstm1(x)
        forward2, _ = self.forward_lstm2(forward1 + self.forward_skip(x))
        backward1 = go_backwards(self.backward_lstm1, x)
        if self.flip_lstm1:
            backward1 = backward1.flip(1)
        backward2 = go_backwards(self.backward_lstm2, backward1 + self.backward_skip(x))
        if self.flip_lstm2:
            backward2 = backward2.flip(1)
        return {
            "forward": self.softmax_layer(forward2),
            "backward": self.softmax_layer(backward2),
        }


class CausalConvLM(nn.Module):
    """A 1-D convolution LM padded on the left so output t sees tokens t-k+1..t.

    off_by_one=True pads k-2 on the left and 1 on the right, a plausible slip: same output
    length, but output t now also sees token t+1 (one forbidden diagonal).
    """

    def __init__(self, vocab: int, emb: int, channels: int, kernel: int, off_by_one: bool):
        super().__init__()
        self.padding = (kernel - 2, 1) if off_by_one else (kernel - 1, 0)
        self.embedding = nn.Embedding(vocab, emb)
        self.conv = nn.Conv1d(emb, channels, kernel)
        self.decoder = nn.Linear(channels, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids).transpose(1, 2)  # (batch, emb, time)
        hidden = torch.tanh(self.conv(F.pad(x, self.padding)))
        return self.decoder(hidden.transpose(1, 2))


class MeanContextLM(nn.Module):
    """A causal LSTM LM plus a "sentence context" of embeddings averaged over time.

    causal_mean=False averages over the whole sequence (a leak: every position sees the
    future, weakly, through a 1/time share); causal_mean=True uses the running mean over
    tokens 0..t (causal).
    """

    def __init__(self, vocab: int, emb: int, hidden: int, causal_mean: bool):
        super().__init__()
        self.causal_mean = causal_mean
        self.embedding = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hidden, batch_first=True)
        self.context = nn.Linear(emb, hidden)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids)
        outputs, _ = self.rnn(x)
        if self.causal_mean:
            counts = torch.arange(1, x.shape[1] + 1, dtype=x.dtype).reshape(1, -1, 1)
            mean = x.cumsum(1) / counts
        else:
            mean = x.mean(1, keepdim=True).expand_as(x)
        return self.decoder(outputs + self.context(mean))


class PaddingMixingLM(nn.Module):
    """A causal LSTM LM whose outputs at padding positions (t >= length) average everything.

    Causal at every real position; only its padding outputs see the future. Takes lengths.
    """

    def __init__(self, vocab: int, emb: int, hidden: int):
        super().__init__()
        self.lm = CausalLM(vocab, emb, hidden)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        logits = self.lm(ids)
        padding = torch.arange(ids.shape[1]).unsqueeze(0) >= lengths.unsqueeze(1)
        everything = logits.mean(1, keepdim=True).expand_as(logits)
        return torch.where(padding.unsqueeze(2), everything, logits)


class BackwardLM(nn.Module):
    """A backward LSTM LM that ignores lengths: with post-padding it starts reading at the
    padding, so its real outputs depend on padding tokens (contract "backward" otherwise holds).
    """

    def __init__(self, vocab: int, emb: int, hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hidden, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.decoder(go_backwards(self.rnn, self.embedding(ids)).flip(1))
