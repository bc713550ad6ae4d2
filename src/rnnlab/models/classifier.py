"""The sequence classifier of seed 002: embedding → recurrent block → pooling → dense → output.

Seed 002's Keras model, and what each line becomes here (``SS_RST_LSTM``)::

    Embedding(num_words, 64)                 self.embedding  (vocab_size, 64)
    LSTM(128, return_sequences=True)         self.recurrent  rnnlab.Recurrent, any cell
    AveragePooling1D(pool_size=99)           pool_states(..., "mean")
    Dense(64)           # no activation      self.dense      (128 → 64), linear
    Dense(1, activation="sigmoid")           self.output     (64 → 1), a logit; sigmoid in the loss

``masked=False`` is Keras without ``mask_zero``: the recurrent layer reads the pad
embeddings and the mean runs over every position. ``masked=True`` hands ``lengths`` to the
recurrent layer, so padding (its content and its amount) never reaches a state, a mean or a
prediction.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.core.cells import GRUCell
from rnnlab.core.layers import Recurrent
from rnnlab.models.config import ClassifierConfig
from rnnlab.models.init import (
    init_embedding,
    init_linear,
    init_recurrent,
    part_generator,
)
from rnnlab.models.pooling import pool_states
from rnnlab.models.token_ids import check_token_ids

_ACTIVATIONS = {None: nn.Identity, "relu": nn.ReLU, "tanh": nn.Tanh}


class SequenceClassifier(nn.Module):
    """A recurrent text classifier built from a :class:`ClassifierConfig`.

    Args:
        config: sizes, cell, depth, direction, pooling, masking, initialisation.
        seed: seeds each part's initial weights (see :mod:`rnnlab.models.init`).

    >>> model = SequenceClassifier(ClassifierConfig.from_arrangement("MS_RST_biLSTM",
    ...                            vocab_size=50, hidden_size=6, embedding_size=5))
    >>> model(torch.randint(0, 50, (3, 7))).shape
    torch.Size([3, 1])
    """

    def __init__(self, config: ClassifierConfig, *, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        # torch's constructors draw default weights from the global RNG; they are overwritten
        # by reset_parameters below, so building a model must not disturb the caller's RNG.
        with torch.random.fork_rng(devices=[]):
            self._build(config)
        self.reset_parameters(seed)

    def _build(self, config: ClassifierConfig) -> None:
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.pooled_dropout = nn.Dropout(config.pooled_dropout)
        self.recurrent = Recurrent(
            self._recurrent_input_size(config),
            config.hidden_size,
            config.num_layers,
            batch_first=True,
            # torch warns about dropout on a single layer, where it would do nothing
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=config.bidirectional,
            cell=config.resolved_cell,
            recurrent_dropout=config.recurrent_dropout,
            weight_dropout=config.weight_dropout,
        )
        features = config.recurrent_output_size
        self.dense: nn.Linear | None = None
        if config.dense_size:
            self.dense = nn.Linear(features, config.dense_size)
            features = config.dense_size
        self.activation = _ACTIVATIONS[config.dense_activation]()
        self.output = nn.Linear(features, config.num_outputs)

    def _recurrent_input_size(self, config: ClassifierConfig) -> int:
        """Features per position the recurrent block reads (a subclass adds its own)."""
        return config.embedding_size

    def reset_parameters(self, seed: int = 0) -> None:
        """(Re)initialise every part from its own ``(seed, part)`` generator."""
        scheme = self.config.init
        init_embedding(self.embedding, scheme, part_generator(seed, "embedding"))
        init_recurrent(self.recurrent, scheme, part_generator(seed, "recurrent"))
        if self.dense is not None:
            init_linear(self.dense, scheme, part_generator(seed, "dense"))
        init_linear(self.output, scheme, part_generator(seed, "output"))

    def features(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The pooled recurrent summary: ids ``(batch, time)`` → ``(batch, directions*hidden)``."""
        if ids.dim() != 2:
            raise ValueError(f"ids must be (batch, time), got shape {tuple(ids.shape)}")
        check_token_ids(ids, self.embedding.num_embeddings)
        embedded = self.input_vectors(ids, lengths)  # (batch, time, recurrent input)
        if self.config.masked:
            if lengths is None:
                raise ValueError("lengths must be given when masked=True (one per sequence, "
                                 "the number of real tokens); or build with masked=False")
            result = self.recurrent(embedded, lengths=lengths, padding=self.config.padding)
        else:
            # Keras without mask_zero: lengths are ignored and the padding is read.
            result = self.recurrent(embedded)
        return pool_states(result, self.config.pooling)

    def input_vectors(self, ids: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """What the recurrent block reads: ids ``(batch, time)`` → ``(batch, time, embedding)``
        (the ELMo classifier adds its features here)."""
        return self.embedding_dropout(self.embedding(ids))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits.

        Args:
            ids: ``(batch, time)`` int64 token ids, padded on ``config.padding``'s side.
            lengths: ``(batch,)`` real tokens per row; required when ``config.masked``.

        Returns:
            ``(batch, num_outputs)``: one logit per example for binary tasks (sigmoid gives
            P(class 1)), one per class otherwise (softmax).
        """
        hidden = self.pooled_dropout(self.features(ids, lengths))
        if self.dense is not None:
            hidden = self.activation(self.dense(hidden))
        return self.output(hidden)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """``(batch, num_outputs)`` logits → ``(batch, num_classes)`` class probabilities."""
        return logits_to_probabilities(logits)


def logits_to_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """``(batch, 1)`` binary logits → ``(batch, 2)``; ``(batch, classes)`` → softmax."""
    if logits.shape[-1] == 1:
        positive = torch.sigmoid(logits)
        return torch.cat([1 - positive, positive], dim=-1)
    return torch.softmax(logits, dim=-1)


def parameter_count(model: nn.Module, convention: str = "torch") -> int:
    """Trainable parameters of ``model``.

    ``convention="torch"`` counts what the model holds. ``"keras"`` counts what the same
    model has in Keras: Keras's LSTM and SimpleRNN keep one bias per cell where torch keeps
    two (``bias_ih`` and ``bias_hh``, which only ever appear as a sum), so each such cell
    counts ``gates*hidden`` fewer; Keras's GRU (``reset_after=True``) keeps both, as torch.
    """
    if convention not in ("torch", "keras"):
        raise ValueError(f"convention must be 'torch' or 'keras', got {convention!r}")
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if convention == "keras":
        for module in model.modules():
            bias_hh = getattr(module, "bias_hh", None)
            if isinstance(bias_hh, nn.Parameter) and not isinstance(module, GRUCell):
                total -= bias_hh.numel()
    return total
