"""A stacked LSTM language model with dropout on the non-recurrent connections only.

Zaremba, Sutskever & Vinyals (2014), "Recurrent Neural Network Regularization", section 3:
dropout is applied to the connections between layers, never to the recurrent ones, so the
memory is not erased at every step::

    ids (batch, time)
      └─ embedding ─ dropout ─ LSTM layer 1 ─ dropout ─ LSTM layer 2 ─ dropout ─ decoder ─ logits
                                   ↺ h, c                   ↺ h, c       (batch, time, vocab)
                              (no dropout on ↺: the recurrent connections)

The middle dropout is ``rnnlab.LSTM``'s own ``dropout`` (between layers, as ``torch.nn.LSTM``),
so standard cells keep PyTorch's fused kernel. Any rnnlab LSTM cell works (``cell="lstm"``,
``"peephole"``, ``"cifg"``, ``"layernorm"``). ``tie_weights`` shares the embedding with the
decoder (Press & Wolf 2017; Inan et al. 2017); Zaremba et al. did not tie.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.core import LSTM
from rnnlab.models.token_ids import check_token_ids

State = tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class LanguageModelConfig:
    """The shape of a stacked LSTM LM; the defaults are Zaremba et al.'s small model."""

    vocab_size: int  # output classes and embedding rows (10,000 on PTB)
    hidden_size: int = 200  # units per LSTM layer (small 200, medium 650, large 1500)
    num_layers: int = 2  # Zaremba et al.: 2 in every configuration
    embedding_size: int | None = None  # None: hidden_size, as Zaremba et al.
    dropout: float = 0.0  # non-recurrent dropout (small 0, medium 0.5, large 0.65)
    cell: str = "lstm"  # any rnnlab LSTM cell: "lstm", "peephole", "cifg", "layernorm"
    tie_weights: bool = False  # decoder.weight is embedding.weight (needs equal sizes)
    init_scale: float | None = 0.1  # every weight ~ U(-s, s) (Zaremba); None: torch defaults

    def __post_init__(self) -> None:
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {self.vocab_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.init_scale is not None and self.init_scale <= 0:
            raise ValueError(f"init_scale must be > 0 or None, got {self.init_scale}")
        if self.tie_weights and self.resolved_embedding_size != self.hidden_size:
            raise ValueError(
                f"tie_weights needs embedding_size == hidden_size, got "
                f"embedding_size={self.resolved_embedding_size}, hidden_size={self.hidden_size}"
            )

    @property
    def resolved_embedding_size(self) -> int:
        return self.hidden_size if self.embedding_size is None else self.embedding_size


@dataclass(frozen=True)
class LMStep:
    """One window's result: ``logits (batch, time, vocab)`` and the state after its last step
    (``(h, c)``, each ``(layers, batch, hidden)``), to carry into the next window."""

    logits: torch.Tensor
    state: State


class LanguageModel(nn.Module):
    """Embedding → dropout → stacked ``rnnlab.LSTM`` → dropout → linear decoder.

    ``model(ids)`` returns logits ``(batch, time, vocab)`` from a zero state (a pure
    ids → per-position outputs map, as the leak audit expects); ``model.run(ids, state)``
    also returns the final state, for truncated BPTT.

    >>> model = LanguageModel(LanguageModelConfig(vocab_size=11, hidden_size=6))
    >>> step = model.run(torch.zeros(3, 4, dtype=torch.long))
    >>> tuple(step.logits.shape), tuple(step.state[0].shape)
    ((3, 4, 11), (2, 3, 6))
    """

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__()
        self.config = config
        embedding_size = config.resolved_embedding_size
        self.embedding = nn.Embedding(config.vocab_size, embedding_size)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = LSTM(
            embedding_size,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
            cell=config.cell,
        )
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        if config.init_scale is not None:
            self._init_uniform(config.init_scale)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight

    def _init_uniform(self, scale: float) -> None:
        # Zaremba et al. draw every parameter from U(-scale, scale), biases and embeddings
        # included. Layer-norm gains and shifts keep their (1, 0) start: drawn near zero the
        # gains would switch the normalised signal off.
        for name, parameter in self.named_parameters():
            if "layernorm" not in name:
                nn.init.uniform_(parameter, -scale, scale)

    def init_state(self, batch: int) -> State:
        """Zero ``(h, c)``, each ``(layers, batch, hidden)``, on the model's device."""
        weight = self.decoder.weight
        shape = (self.config.num_layers, batch, self.config.hidden_size)
        return tuple(weight.new_zeros(shape) for _ in range(2))

    def run(self, ids: torch.Tensor, state: State | None = None) -> LMStep:
        """ids ``(batch, time)`` and an optional carried state → logits and the final state."""
        if ids.dim() != 2:
            raise ValueError(f"ids must be (batch, time), got shape {tuple(ids.shape)}")
        check_token_ids(ids, self.embedding.num_embeddings)
        embedded = self.dropout(self.embedding(ids))  # (batch, time, embedding)
        result = self.rnn(embedded, initial_state=state)
        hidden = self.dropout(result.output)  # (batch, time, hidden)
        return LMStep(self.decoder(hidden), tuple(result.state))

    def forward(self, ids: torch.Tensor, state: State | None = None) -> torch.Tensor:
        """Logits ``(batch, time, vocab)``; position t predicts token t+1 from tokens ≤ t."""
        return self.run(ids, state).logits


def token_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood (nats) per token: logits ``(..., vocab)``, targets ``(...)``."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def perplexity(total_nll: float, tokens: int) -> float:
    """``exp(total_nll / tokens)``: the exponential of the mean token NLL (in nats)."""
    if tokens < 1:
        raise ValueError(f"tokens must be >= 1, got {tokens}")
    mean = total_nll / tokens
    if math.isnan(mean):
        return math.nan  # a diverged loss has no perplexity; inf would read as "very bad"
    return math.exp(mean) if mean < 700 else math.inf  # exp overflows a float past ~709
