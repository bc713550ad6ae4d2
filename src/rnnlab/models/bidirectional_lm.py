"""Seed 000's bidirectional next-word model, and its ``go_backwards`` leak on request.

Two stacks share the embedding and the softmax layer. The forward stack reads left to right
and predicts token t+1 at position t; the backward stack reads right to left and predicts
token t−1 at position t. Each stack is::

    embedding ──┬─ LSTM1 ─┐
                └─ dense ─+─ LSTM2 ─ shared softmax

The backward LSTMs run Keras-style (``go_backwards=True``): they return outputs in
*processing* order, so row s belongs to input position T−1−s. They must be put back in input
order (``flip_time``) before anything position-wise touches them. Tokens A B C D, an identity
"LSTM" for illustration (seed 000's figures)::

    input order               A    B    C    D
    LSTM1 processing order    D    C    B    A      (row 0 read D first)
    fixed:  flip, then add    A+A  B+B  C+C  D+D    position t sees tokens ≥ t only
    leaky:  add as returned   A+D  B+C  C+B  D+A    position 2 must predict B, and B is in
                                                    its own input: tokens < t leak in

``leaky=True`` reproduces the seed's bug: both backward LSTMs' outputs are used as returned,
in processing order (the seed's fix flipped "the outputs of both LSTM layers"). The output
reported at position t is then LSTM2's step after reading row T−1−t, whose input one step
earlier held LSTM1's state right after reading token t−1, the target: a lag-1 copy, which is
why the seed saw ~100 % "accuracy" (random tokens are "predicted" perfectly within ~100 steps).
It exists to demonstrate the leak and to test the leak audit, never for real use.

``leaky_lstm1_only=True`` is the smaller half of that bug: only LSTM1's output is added
unflipped; LSTM2's output is flipped back, so the logits are in input order and position t has
to dig token t−1 out of LSTM1's memory at a lag of |2t − T| steps: learnable, but slowly.

With ``lengths`` (post padding), the backward stack starts at each sequence's last real token;
outputs at padded positions are meaningless and must be masked by the caller.

AWD-LSTM's regularisers (Merity et al. 2017; ``REGULARISERS``), for pretraining the encoder
that the transfer study's ELMo-style and fine-tuned classifiers start from: embedding dropout
(whole words), locked dropout of the word vectors and of LSTM1's output where LSTM2 reads it
(one mask per sequence, every step), and weight drop (DropConnect) on W_hh of all four LSTMs,
which keeps the fused kernels. All are off in eval mode, so features and the leak audit see
the whole model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from rnnlab._config import check_known_keys
from rnnlab.core import LSTM, flip_time
from rnnlab.core.dropout import locked_dropout
from rnnlab.core.padding import LengthsLike, as_lengths, lengths_to_mask, zero_padding
from rnnlab.models import softmax_heads
from rnnlab.models.embedding_dropout import embedding_dropout
from rnnlab.models.softmax_heads import (
    DEFAULT_DIV_VALUE,
    SOFTMAX_KINDS,
    check_cutoffs,
    default_cutoffs,
)
from rnnlab.models.token_ids import check_token_ids

# The AWD-LSTM regularisers of BidirectionalLMConfig; every one is off (0) by default and in
# eval mode, so a run saved before they existed loads as the same model.
REGULARISERS = ("embedding_dropout", "input_dropout", "layer_dropout", "weight_dropout")


@dataclass(frozen=True)
class BidirectionalLMConfig:
    """Sizes of seed 000's model (it used Keras defaults; these are small and CPU-friendly)."""

    vocab_size: int  # embedding rows and softmax classes
    embedding_size: int = 64  # word vectors (the seed used pretrained 300-d ones)
    hidden_size: int = 128  # units of every LSTM and of the skip dense layer
    cell: str = "lstm"  # any rnnlab LSTM cell
    dropout: float = 0.0  # on the embedding and before the softmax (non-recurrent only)
    # AWD-LSTM's regularisers (Merity et al. 2017), as `rnnlab lm train --preset awd` has them:
    embedding_dropout: float = 0.0  # drop whole words of the vocabulary (AWD 0.1)
    input_dropout: float = 0.0  # locked dropout of the word vectors, both stacks (AWD 0.4)
    layer_dropout: float = 0.0  # locked dropout of LSTM1's output on its way to LSTM2 (AWD 0.3)
    weight_dropout: float = 0.0  # DropConnect on W_hh of all four LSTMs (AWD 0.5)
    leaky: bool = False  # reproduce seed 000's bug: both backward outputs left unflipped
    leaky_lstm1_only: bool = False  # half the bug: only LSTM1's output unflipped (see module)
    softmax: str = "full"  # "full" (nn.Linear) or "adaptive" (see models.softmax_heads)
    cutoffs: tuple[int, ...] | None = None  # adaptive only; None: default_cutoffs(vocab_size)
    div_value: float = DEFAULT_DIV_VALUE  # adaptive only: each cluster 4x narrower

    def __post_init__(self) -> None:
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {self.vocab_size}")
        for name in ("dropout", *REGULARISERS):
            value = getattr(self, name)
            if isinstance(value, bool) or not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        if self.leaky and self.leaky_lstm1_only:
            raise ValueError("choose leaky=True (the seed's whole bug) or leaky_lstm1_only=True "
                             "(its LSTM1 half), not both")
        if self.softmax not in SOFTMAX_KINDS:
            raise ValueError(f"softmax must be one of {list(SOFTMAX_KINDS)}, got "
                             f"{self.softmax!r}")
        if self.cutoffs is not None:
            if self.softmax != "adaptive":
                raise ValueError(f"cutoffs apply to softmax='adaptive' only, got cutoffs="
                                 f"{list(self.cutoffs)} with softmax={self.softmax!r}")
            object.__setattr__(self, "cutoffs", check_cutoffs(
                self.cutoffs, self.vocab_size, self.hidden_size, self.div_value))
        elif self.softmax == "adaptive":
            check_cutoffs(default_cutoffs(self.vocab_size), self.vocab_size, self.hidden_size,
                          self.div_value)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``cutoffs`` as a list)."""
        data = asdict(self)
        data["cutoffs"] = None if self.cutoffs is None else list(self.cutoffs)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BidirectionalLMConfig:
        """Inverse of :meth:`to_dict`; an unknown key is an error."""
        check_known_keys(data, cls, "BidirectionalLMConfig key")
        cutoffs = data.get("cutoffs")
        return cls(**{**data, "cutoffs": None if cutoffs is None else tuple(cutoffs)})


@dataclass(frozen=True)
class StackOutputs:
    """One direction's layer outputs in input order: each ``(batch, time, hidden)``."""

    layer1: torch.Tensor
    layer2: torch.Tensor


class DirectionStack(nn.Module):
    """LSTM1 → dense(embedding) + LSTM1 output → LSTM2, reading in one direction."""

    def __init__(self, config: BidirectionalLMConfig, backward: bool) -> None:
        super().__init__()
        self.backward = backward
        self.unflipped_lstm1 = backward and (config.leaky or config.leaky_lstm1_only)
        self.unflipped_lstm2 = backward and config.leaky
        self.layer_dropout = config.layer_dropout
        size = config.hidden_size
        self.lstm1 = LSTM(config.embedding_size, size, batch_first=True, cell=config.cell,
                          go_backwards=backward, weight_dropout=config.weight_dropout)
        self.skip = nn.Linear(config.embedding_size, size)
        self.lstm2 = LSTM(size, size, batch_first=True, cell=config.cell, go_backwards=backward,
                          weight_dropout=config.weight_dropout)

    def _input_order(self, processed: torch.Tensor) -> torch.Tensor:
        return flip_time(processed, batch_first=True) if self.backward else processed

    def forward(
        self, embedded: torch.Tensor, lengths: LengthsLike | None = None
    ) -> StackOutputs:
        """embedded ``(batch, time, embedding)`` → layer outputs in input order."""
        raw1 = self.lstm1(embedded, lengths=lengths).output  # processing order if backward
        layer1 = self._input_order(raw1)
        # The seed's bug: the processing-order output is added position by position to the
        # input-order embedding, so row t carries what LSTM1 read from the far end.
        added = raw1 if self.unflipped_lstm1 else layer1
        # One mask per sequence at every step (locked), on what LSTM2 reads from LSTM1 only:
        # ``layer1``, the feature a downstream model reads, stays whole.
        added = locked_dropout(added, self.layer_dropout, self.training)
        raw2 = self.lstm2(self.skip(embedded) + added, lengths=lengths).output
        layer2 = raw2 if self.unflipped_lstm2 else self._input_order(raw2)
        return StackOutputs(layer1, layer2)


@dataclass(frozen=True)
class BiLMFeatures:
    """ELMo-style features, input order: ``embedding (batch, time, embedding)``,
    ``layer1`` and ``layer2`` ``(batch, time, 2*hidden)`` (forward ⊕ backward)."""

    embedding: torch.Tensor
    layer1: torch.Tensor
    layer2: torch.Tensor

    def concat(self) -> torch.Tensor:
        """All three side by side: ``(batch, time, embedding + 4*hidden)``."""
        return torch.cat([self.embedding, self.layer1, self.layer2], dim=-1)


class BidirectionalLM(nn.Module):
    """Seed 000's model: ``model(ids)`` → ``{"forward": logits, "backward": logits}``.

    ids ``(batch, time)``; each logits tensor ``(batch, time, vocab)`` in input order.
    ``forward[:, t]`` predicts ``ids[:, t+1]`` from tokens ≤ t; ``backward[:, t]`` predicts
    ``ids[:, t-1]`` from tokens ≥ t (unless ``leaky`` or ``leaky_lstm1_only``).

    >>> model = BidirectionalLM(BidirectionalLMConfig(vocab_size=11, embedding_size=5,
    ...                                               hidden_size=6))
    >>> {k: tuple(v.shape) for k, v in model(torch.zeros(3, 4, dtype=torch.long)).items()}
    {'forward': (3, 4, 11), 'backward': (3, 4, 11)}
    """

    def __init__(self, config: BidirectionalLMConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size)
        self.dropout = nn.Dropout(config.dropout)
        self.forward_stack = DirectionStack(config, backward=False)
        self.backward_stack = DirectionStack(config, backward=True)
        # shared by both directions: nn.Linear, or nn.AdaptiveLogSoftmaxWithLoss
        self.softmax_layer = softmax_heads.softmax_layer(
            config.softmax, config.hidden_size, config.vocab_size, config.cutoffs,
            config.div_value)

    def _stacks(
        self, ids: torch.Tensor, lengths: LengthsLike | None
    ) -> tuple[torch.Tensor, StackOutputs, StackOutputs]:
        if ids.dim() != 2:
            raise ValueError(f"ids must be (batch, time), got shape {tuple(ids.shape)}")
        check_token_ids(ids, self.embedding.num_embeddings)
        config = self.config
        embedded = embedding_dropout(ids, self.embedding, config.embedding_dropout, self.training)
        if lengths is not None:
            # The skip connection reads the embeddings directly: padding must be zero there
            # too, or a NaN pad vector would reach the skip weights' gradient.
            lengths = as_lengths(lengths, batch=ids.shape[0], time=ids.shape[1],
                                 device=ids.device)
            embedded = zero_padding(embedded, lengths_to_mask(lengths, ids.shape[1]))
        # both stacks read the same drop: one model of the text, seen from either end
        dropped = self.dropout(locked_dropout(embedded, config.input_dropout, self.training))
        return embedded, self.forward_stack(dropped, lengths), self.backward_stack(dropped, lengths)

    def forward(
        self, ids: torch.Tensor, lengths: LengthsLike | None = None
    ) -> dict[str, torch.Tensor]:
        """ids ``(batch, time)``, optional ``lengths (batch,)`` (post padding) → scores
        ``(batch, time, vocab)`` per direction: logits (full softmax) or log-probabilities
        (adaptive); ``log_softmax`` of either is the log-probability."""
        return {name: softmax_heads.scores(self.softmax_layer, hidden)
                for name, hidden in self.softmax_inputs(ids, lengths).items()}

    def softmax_inputs(
        self, ids: torch.Tensor, lengths: LengthsLike | None = None
    ) -> dict[str, torch.Tensor]:
        """What the shared softmax reads, per direction: ``(batch, time, hidden)``.

        Training scores only the real positions through :meth:`target_log_probs`, so the
        adaptive softmax never builds ``(batch, time, vocab)``.
        """
        _, forward, backward = self._stacks(ids, lengths)
        return {"forward": self.dropout(forward.layer2), "backward": self.dropout(backward.layer2)}

    def log_probs(self, hidden: torch.Tensor) -> torch.Tensor:
        """Softmax inputs ``(..., hidden)`` → log-probabilities ``(..., vocab)``."""
        return softmax_heads.log_probs(self.softmax_layer, hidden)

    def target_log_probs(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``hidden (rows, hidden)``, ``targets (rows,)`` → ``log p(target) (rows,)``."""
        return softmax_heads.target_log_probs(self.softmax_layer, hidden, targets)

    def predict(self, hidden: torch.Tensor) -> torch.Tensor:
        """``hidden (rows, hidden)`` → most probable ids ``(rows,)``."""
        return softmax_heads.predict(self.softmax_layer, hidden)

    def features(self, ids: torch.Tensor, lengths: LengthsLike | None = None) -> BiLMFeatures:
        """ELMo-style features of ``ids (batch, time)`` for a downstream model."""
        embedded, forward, backward = self._stacks(ids, lengths)
        return BiLMFeatures(
            embedding=embedded,
            layer1=torch.cat([forward.layer1, backward.layer1], dim=-1),
            layer2=torch.cat([forward.layer2, backward.layer2], dim=-1),
        )
