"""The configuration of a sequence classifier, with defaults that reproduce seed 002.

    ids (batch, time) ─ embedding ─ recurrent block ─ pooling ─ dense ─ output ─ logits
                        64           LSTM 128 ×1      last      64      1 (sigmoid)
                                                                 (no activation)

``ClassifierConfig()`` is seed 002's ``SS_RSF_LSTM`` for a 5000-word vocabulary;
``ClassifierConfig.from_arrangement("MS_RST_biGRU", vocab_size=len(vocab))`` is any of the
12 named arrangements, and every field can be overridden.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from rnnlab._config import check_known_keys, check_positive_ints, is_int
from rnnlab.core.registry import ALL_CELLS
from rnnlab.models.arrangements import model_label, parse_arrangement

POOLINGS = ("last", "mean", "max")
INITS = ("keras", "torch")
DENSE_ACTIVATIONS = (None, "relu", "tanh")
PADDING_SIDES = ("pre", "post")
ENCODER_TRAINING = ("frozen", "finetune")
# The transfer fields and their defaults (left out of to_dict when at these values).
_TRANSFER_DEFAULTS = {"embedding_vectors": None, "freeze_embedding": False,
                      "encoder_run": None, "encoder_training": "frozen"}
# The recurrent dropout family (rnnlab.Recurrent's arguments), left out of to_dict when off.
# (Zoneout is left out: it changes the evaluated function too, which the exporters and the
# torch-free predictor do not model.)
_RECURRENT_REGULARISERS = ("recurrent_dropout", "weight_dropout")
# Cell names the classifier accepts: the core registry's names plus the plain "rnn" alias.
CELL_ALIASES = {"rnn": "rnn_tanh"}
# Every spelling ``cell`` accepts, aliases included (a CLI's ``choices``).
CLASSIFIER_CELLS = (*ALL_CELLS, *CELL_ALIASES)


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything needed to build a :class:`~rnnlab.models.SequenceClassifier`.

    Saved (as :meth:`to_dict`) in every checkpoint and result row, so a run can be rebuilt.
    """

    vocab_size: int = 5000  # seed 002: num_words=5000 (PAD and OOV ids included)
    num_classes: int = 2  # 2 = one sigmoid logit (seed 002); > 2 = one logit per class
    embedding_size: int = 64  # seed 002: Embedding(num_words, 64)
    cell: str = "lstm"  # core cell name: lstm, gru, rnn_tanh, rnn_relu, peephole, cifg, layernorm
    hidden_size: int = 128  # seed 002: LSTM(128) / GRU(128), per direction
    num_layers: int = 1  # SS = 1; MS = 2 stacked (or 1 bidirectional)
    bidirectional: bool = False  # seed 002's biLSTM/biGRU: Bidirectional(LSTM(128)), concat
    pooling: str = "last"  # RSF = "last" state; RST = "mean" of all states; or "max"
    dense_size: int = 64  # seed 002: Dense(64); 0 = no hidden dense layer
    dense_activation: str | None = None  # seed 002's Dense(64) has no activation (linear)
    dropout: float = 0.0  # between stacked recurrent layers (seed 002: none)
    embedding_dropout: float = 0.0  # on the word vectors, in training (seed 002: none)
    pooled_dropout: float = 0.0  # on the pooled summary before the dense layer (seed: none)
    # Inside the recurrent layers, in training only (rnnlab.Recurrent; seed 002: none): Gal's
    # dropout of h_{t-1} where it enters W_hh, and DropConnect on W_hh (Merity et al. 2017).
    recurrent_dropout: float = 0.0
    weight_dropout: float = 0.0
    masked: bool = False  # False = Keras without mask_zero, as seed 002: padding is read
    padding: str = "pre"  # side the ids are padded on (seed 002 pads on the left)
    init: str = "keras"  # "keras" reproduces Keras's initialisers; "torch" torch's defaults
    arrangement: str | None = None  # the seed-002 name this came from, for records only
    # Transfer (issue 12); None/False/"frozen" = trained from scratch, as seed 002.
    embedding_vectors: str | None = None  # `rnnlab embed word2vec` folder: initial embedding
    freeze_embedding: bool = False  # keep the embedding fixed (frozen word2vec)
    encoder_run: str | None = None  # `rnnlab lm nextword` run: ELMo-style features beside x_k
    encoder_training: str = "frozen"  # "frozen" (ELMo) or "finetune" (ULMFiT, see unfreezing)

    def __post_init__(self) -> None:
        for name in ("bidirectional", "masked", "freeze_embedding"):
            # A string flag ("false", "no") is truthy: take only real booleans.
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        check_positive_ints(self, ("vocab_size", "embedding_size", "hidden_size", "num_layers"))
        if not is_int(self.num_classes) or self.num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {self.num_classes!r}")
        if not is_int(self.dense_size) or self.dense_size < 0:
            raise ValueError(f"dense_size must be an int >= 0 (0 = no dense layer), "
                             f"got {self.dense_size!r}")
        if self.resolved_cell not in ALL_CELLS:
            allowed = sorted(CLASSIFIER_CELLS)
            raise ValueError(f"cell must be one of {allowed}, got {self.cell!r}")
        _check_choice("pooling", self.pooling, POOLINGS)
        _check_choice("dense_activation", self.dense_activation, DENSE_ACTIVATIONS)
        _check_choice("padding", self.padding, PADDING_SIDES)
        _check_choice("init", self.init, INITS)
        _check_choice("encoder_training", self.encoder_training, ENCODER_TRAINING)
        for name in ("embedding_vectors", "encoder_run"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{name} must be a path (a non-empty string) or null, "
                                 f"got {value!r}")
        if self.encoder_training == "finetune" and self.encoder_run is None:
            raise ValueError("encoder_training='finetune' needs encoder_run (the pretrained "
                             "bi-LM run to fine-tune)")
        if self.freeze_embedding and self.encoder_training == "finetune":
            raise ValueError("freeze_embedding cannot be combined with encoder_training="
                             "'finetune' (gradual unfreezing trains the whole classifier)")
        for name in ("dropout", "embedding_dropout", "pooled_dropout",
                     *_RECURRENT_REGULARISERS):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")

    @property
    def resolved_cell(self) -> str:
        """The core registry's name for :attr:`cell` (``"rnn"`` → ``"rnn_tanh"``)."""
        return CELL_ALIASES.get(self.cell, self.cell)

    @property
    def label(self) -> str:
        """What this config trains, e.g. ``"MS_RST_biGRU+layernorm"`` (see
        :func:`~rnnlab.models.arrangements.model_label`); run files, the store and the report
        name runs by it, while :attr:`arrangement` stays the name it was built from."""
        label = model_label(self.arrangement, cell=self.cell, num_layers=self.num_layers,
                            bidirectional=self.bidirectional, pooling=self.pooling)
        transfer = [name for name, on in (
            ("word2vec", self.embedding_vectors is not None),
            ("frozen-embedding", self.freeze_embedding),
            ("elmo", self.encoder_run is not None and self.encoder_training == "frozen"),
            ("finetune", self.encoder_training == "finetune")) if on]
        return "+".join((label, *transfer))

    @property
    def num_outputs(self) -> int:
        """Logits per example: 1 for binary (sigmoid), ``num_classes`` otherwise (softmax)."""
        return 1 if self.num_classes == 2 else self.num_classes

    @property
    def recurrent_output_size(self) -> int:
        """Features the pooling produces: ``directions * hidden_size``."""
        return (2 if self.bidirectional else 1) * self.hidden_size

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_arrangement(cls, name: str, **overrides: Any) -> ClassifierConfig:
        """A seed-002 arrangement (``"MS_RST_biLSTM"``, …) with seed sizes, plus overrides.

        >>> ClassifierConfig.from_arrangement("MS_RST_GRU", vocab_size=100).num_layers
        2
        """
        parsed = parse_arrangement(name)
        base = {
            "cell": parsed.cell.lower(),
            "num_layers": parsed.num_layers,
            "bidirectional": parsed.bidirectional,
            "pooling": parsed.pooling,
            "arrangement": parsed.name,
        }
        _check_keys(overrides, "from_arrangement override")
        return cls(**{**base, **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassifierConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo must not vanish)."""
        _check_keys(data, "ClassifierConfig key")
        return cls(**data)

    @property
    def uses_pretrained(self) -> bool:
        """Whether building the model reads a pretrained artifact (vectors or a bi-LM run)."""
        return self.embedding_vectors is not None or self.encoder_run is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field; the transfer fields and the recurrent
        regularisers only when set, so the configs saved before they existed (in checkpoints
        and result stores) still match."""
        defaults = {**_TRANSFER_DEFAULTS, **dict.fromkeys(_RECURRENT_REGULARISERS, 0.0)}
        return {key: value for key, value in asdict(self).items()
                if key not in defaults or value != defaults[key]}

    def replace(self, **changes: Any) -> ClassifierConfig:
        """A copy with ``changes`` applied (validated like the constructor)."""
        _check_keys(changes, "ClassifierConfig key")
        return replace(self, **changes)


def _check_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")


def _check_keys(data: dict[str, Any], what: str) -> None:
    check_known_keys(data, ClassifierConfig, what)
