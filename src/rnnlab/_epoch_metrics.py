"""The per-epoch record of every training run: classifiers, language models, the result store.

One dataclass for both kinds of run; the fields the other kind uses stay None::

    classifier       epoch  train_loss train_accuracy  valid_loss valid_accuracy  test_loss
                            test_accuracy  seconds
    language model   epoch  learning_rate  train_perplexity  valid_perplexity  seconds
                            train_tokens

``to_dict`` writes exactly the keys of the record's kind, in the order earlier versions wrote
them, so ``metrics.json``, ``history.json`` and the checkpoints keep their layout and old
ones load with ``from_dict``.

Torch-free and outside ``rnnlab.train`` on purpose: the result store (which must not import
torch) records these, and training (which does) produces them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from rnnlab._config import check_known_keys

RunKind = Literal["classifier", "language_model"]

CLASSIFIER_METRICS = (
    "train_loss",
    "train_accuracy",
    "valid_loss",
    "valid_accuracy",
    "test_loss",
    "test_accuracy",
)
LANGUAGE_MODEL_METRICS = ("learning_rate", "train_perplexity", "valid_perplexity", "train_tokens")
# The on-disk key order of each kind (what earlier versions wrote).
_LAYOUTS: dict[RunKind, tuple[str, ...]] = {
    "classifier": ("epoch", *CLASSIFIER_METRICS, "seconds"),
    "language_model": ("epoch", *LANGUAGE_MODEL_METRICS[:3], "seconds", "train_tokens"),
}


@dataclass(frozen=True)
class EpochMetrics:
    """Metrics after ``epoch`` completed epochs (0 may hold an evaluation before training).

    Classifiers: ``train_*`` are averages over the epoch's batches as the weights changed
    (what Keras's ``fit`` reports); ``valid_*`` and ``test_*`` evaluate the weights at the end
    of the epoch, None when the split is empty. Language models: perplexities are
    ``exp(mean token NLL)``; the training one is measured with dropout active.
    """

    epoch: int
    # classifiers (and the result store's ``epochs`` table)
    train_loss: float | None = None
    train_accuracy: float | None = None  # a fraction in [0, 1], as every accuracy here
    valid_loss: float | None = None
    valid_accuracy: float | None = None
    test_loss: float | None = None
    test_accuracy: float | None = None
    seconds: float | None = None  # wall time of the epoch, evaluation included
    # language models
    learning_rate: float | None = None  # the epoch's SGD learning rate
    train_perplexity: float | None = None
    valid_perplexity: float | None = None
    train_tokens: int | None = None  # tokens predicted in the training pass

    def __post_init__(self) -> None:
        if isinstance(self.epoch, bool) or not isinstance(self.epoch, int) or self.epoch < 0:
            raise ValueError(f"epoch must be an int >= 0, got {self.epoch!r}")
        classifier = [name for name in CLASSIFIER_METRICS if getattr(self, name) is not None]
        language_model = [
            name for name in LANGUAGE_MODEL_METRICS if getattr(self, name) is not None
        ]
        if classifier and language_model:
            raise ValueError(
                f"epoch metrics mix classifier metrics {classifier} with language-model "
                f"metrics {language_model}; a record holds one kind"
            )

    @property
    def kind(self) -> RunKind:
        """"language_model" when any language-model metric is set, else "classifier"."""
        if any(getattr(self, name) is not None for name in LANGUAGE_MODEL_METRICS):
            return "language_model"
        return "classifier"

    def to_dict(self) -> dict[str, Any]:
        """The keys of this record's kind (None values included), as written to disk."""
        return {name: getattr(self, name) for name in _LAYOUTS[self.kind]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EpochMetrics:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo would drop a metric)."""
        check_known_keys(dict(data), cls, "epoch metric")
        if "epoch" not in data:
            raise ValueError(
                f"epoch metrics need an 'epoch' key, got {sorted(data)}; allowed: "
                f"{sorted(f.name for f in fields(cls))}"
            )
        return cls(**data)

    def without_timing(self) -> dict[str, Any]:
        """Everything but ``seconds``: what must match bit for bit between two runs."""
        data = self.to_dict()
        del data["seconds"]
        return data
