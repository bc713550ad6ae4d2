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

The AWD-LSTM regularisers (Merity et al. 2017, "Regularizing and Optimizing LSTM Language
Models"; presets in :mod:`rnnlab.models.lm_presets`) are further config fields, all off by
default::

    ids ─ embedding dropout ─ locked ─ LSTM 1 ─ locked ─ … ─ LSTM L ─ locked ─ decoder
          (whole words)       input     ↺ W_hh   between     ↺ W_hh   output  (tied)
                                        weight-dropped (DropConnect, the fused kernel stays)

The last layer may have its own size (``last_hidden_size``; AWD: 1150, 1150, 400 with a
400-wide tied embedding): the layers of ``hidden_size`` are one ``rnnlab.LSTM`` (``rnn``)
and the last layer a second one (``rnn_top``), so the carried state is then four tensors,
``(h, c)`` of ``rnn`` and ``(h, c)`` of ``rnn_top``. :class:`LMStep` also returns the last
layer's output before and after its dropout, which AR and TAR regularise
(:mod:`rnnlab.train.lm_loop`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.core import LSTM
from rnnlab.core.dropout import locked_dropout
from rnnlab.models.embedding_dropout import embedding_dropout
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
    # The AWD-LSTM family (Merity et al. 2017; their PTB values in the comments); 0 is off.
    embedding_dropout: float = 0.0  # drop whole words from the embedding (AWD 0.1)
    input_dropout: float = 0.0  # locked dropout of the embedded words (AWD 0.4)
    layer_dropout: float = 0.0  # locked dropout between LSTM layers (AWD 0.3)
    output_dropout: float = 0.0  # locked dropout of the last layer's output (AWD 0.4)
    weight_dropout: float = 0.0  # DropConnect on every layer's W_hh (AWD 0.5)
    last_hidden_size: int | None = None  # None: hidden_size; AWD: the embedding size (400)
    # None: as init_scale; AWD: embedding (and tied decoder) ~ U(-0.1, 0.1), decoder bias 0
    embedding_init_scale: float | None = None

    def __post_init__(self) -> None:
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {self.vocab_size}")
        for name, flag in (("dropout", "--dropout"), ("embedding_dropout", "--dropoute"),
                           ("input_dropout", "--dropouti"), ("layer_dropout", "--dropouth"),
                           ("output_dropout", "--dropouto"), ("weight_dropout", "--wdrop")):
            rate = getattr(self, name)
            if isinstance(rate, bool) or not 0.0 <= rate < 1.0:
                raise ValueError(f"{name} ({flag}) must be a probability in [0, 1), got "
                                 f"{rate!r}")
        for name in ("init_scale", "embedding_init_scale"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 or None, got {value}")
        if self.last_hidden_size is not None and self.last_hidden_size < 1:
            raise ValueError(f"last_hidden_size must be >= 1 or None, got "
                             f"{self.last_hidden_size}")
        if self.tie_weights and self.resolved_embedding_size != self.resolved_last_hidden_size:
            raise ValueError(
                f"tie_weights needs the last layer's size equal to the embedding size, got "
                f"embedding_size={self.resolved_embedding_size}, hidden_size="
                f"{self.hidden_size}, last layer {self.resolved_last_hidden_size}: set "
                f"last_hidden_size={self.resolved_embedding_size} (as AWD-LSTM does) or "
                f"embedding_size={self.resolved_last_hidden_size}"
            )

    @property
    def resolved_embedding_size(self) -> int:
        return self.hidden_size if self.embedding_size is None else self.embedding_size

    @property
    def resolved_last_hidden_size(self) -> int:
        return self.hidden_size if self.last_hidden_size is None else self.last_hidden_size

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Units per layer, bottom to top: ``hidden_size`` each, the last one its own."""
        return (self.hidden_size,) * (self.num_layers - 1) + (self.resolved_last_hidden_size,)

    @property
    def separate_top(self) -> bool:
        """Whether the last layer has its own size, and so its own ``rnnlab.LSTM``."""
        return len(set(self.layer_sizes)) > 1


@dataclass(frozen=True)
class LMStep:
    """One window's result: ``logits (batch, time, vocab)`` and the state after its last step
    (``(h, c)``, each ``(layers, batch, hidden)``; four tensors with a separate top layer), to
    carry into the next window. ``last_output`` and ``dropped_output``, each ``(batch, time,
    last_hidden)``, are the last layer's output before and after the output dropout (what
    TAR and AR regularise); None when the step came through a wrapper that drops them."""

    logits: torch.Tensor
    state: State
    last_output: torch.Tensor | None = None
    dropped_output: torch.Tensor | None = None


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
        sizes = config.layer_sizes
        lower = len(sizes) - 1 if config.separate_top else len(sizes)
        self.embedding = nn.Embedding(config.vocab_size, embedding_size)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = LSTM(
            embedding_size,
            sizes[0],
            num_layers=lower,
            dropout=config.dropout if lower > 1 else 0.0,
            batch_first=True,
            cell=config.cell,
            layer_dropout=config.layer_dropout if lower > 1 else 0.0,
            weight_dropout=config.weight_dropout,
        )
        self.rnn_top = (LSTM(sizes[0], sizes[-1], batch_first=True, cell=config.cell,
                             weight_dropout=config.weight_dropout)
                        if config.separate_top else None)
        self.decoder = nn.Linear(sizes[-1], config.vocab_size)
        if config.init_scale is not None:
            self._init_uniform(config.init_scale)
        if config.embedding_init_scale is not None:
            # Merity et al.'s init_weights: the embedding U(-0.1, 0.1), the decoder bias 0.
            nn.init.uniform_(self.embedding.weight, -config.embedding_init_scale,
                             config.embedding_init_scale)
            nn.init.zeros_(self.decoder.bias)
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
        """Zero ``(h, c)``, each ``(layers, batch, hidden)``, on the model's device; with a
        separate top layer also its ``(h, c)``, each ``(1, batch, last_hidden)``."""
        weight = self.decoder.weight
        sizes = self.config.layer_sizes
        lower = len(sizes) - 1 if self.rnn_top is not None else len(sizes)
        state = tuple(weight.new_zeros((lower, batch, sizes[0])) for _ in range(2))
        if self.rnn_top is not None:
            state += tuple(weight.new_zeros((1, batch, sizes[-1])) for _ in range(2))
        return state

    def run(self, ids: torch.Tensor, state: State | None = None) -> LMStep:
        """ids ``(batch, time)`` and an optional carried state → logits and the final state."""
        if ids.dim() != 2:
            raise ValueError(f"ids must be (batch, time), got shape {tuple(ids.shape)}")
        check_token_ids(ids, self.embedding.num_embeddings)
        config, training = self.config, self.training
        embedded = embedding_dropout(ids, self.embedding, config.embedding_dropout, training)
        embedded = self.dropout(locked_dropout(embedded, config.input_dropout, training))
        result = self.rnn(embedded, initial_state=None if state is None else state[:2])
        output, final = result.output, tuple(result.state)
        if self.rnn_top is not None:
            between = self.dropout(locked_dropout(output, config.layer_dropout, training))
            top = self.rnn_top(between, initial_state=None if state is None else state[2:])
            output, final = top.output, final + tuple(top.state)
        dropped = self.dropout(locked_dropout(output, config.output_dropout, training))
        return LMStep(self.decoder(dropped), final, output, dropped)

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
