"""The rows that go into and come out of the result store (plain frozen dataclasses).

Accuracies are fractions in [0, 1]; losses are per-example means; times are ISO-8601
UTC strings; durations are seconds. Nothing here imports torch. :class:`EpochMetrics` is
training's own per-epoch record (re-exported here), so what a run reports is what is stored.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rnnlab._epoch_metrics import CLASSIFIER_METRICS, EpochMetrics
from rnnlab.models.arrangements import label_of_model_config

__all__ = ["EpochMetrics", "EpochRow", "RunRow", "RunSpec", "RunStatus", "StudyRow"]

RunStatus = Literal["pending", "running", "done", "failed"]
RUN_STATUSES: tuple[RunStatus, ...] = ("pending", "running", "done", "failed")


def canonical_json(config: Mapping[str, Any] | Any, what: str) -> str:
    """Serialise a config (mapping or dataclass) so that equal configs give equal text."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if not isinstance(config, Mapping):
        raise TypeError(f"{what} must be a mapping or a dataclass, got {type(config).__name__}")
    try:
        # allow_nan=False: NaN is not JSON and would not round-trip through other tools.
        return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what} must be JSON-serialisable: {error}") from error


@dataclass(frozen=True)
class StudyRow:
    """A study: a named set of runs sharing one configuration."""

    id: int
    name: str
    config_json: str
    created_at: str

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(self.config_json)


@dataclass(frozen=True)
class RunSpec:
    """One run a study wants: an arrangement trained once with one seed.

    The key ``(arrangement, run_index, masked, dataset)`` is unique within a study;
    ``config`` is the full resolved configuration the runner will train with.
    """

    arrangement: str
    run_index: int  # runs with the same index share the seed, so they can be paired
    seed: int
    dataset: str
    masked: bool  # True when padding is masked out of the recurrence (seed 002 did not mask)
    config: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.arrangement, str) or not self.arrangement:
            raise ValueError(f"arrangement must be a non-empty str, got {self.arrangement!r}")
        if not isinstance(self.run_index, int) or self.run_index < 0:
            raise ValueError(f"run_index must be an int >= 0, got {self.run_index!r}")
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ValueError(f"dataset must be a non-empty str, got {self.dataset!r}")
        if not isinstance(self.masked, bool):
            raise ValueError(f"masked must be a bool, got {self.masked!r}")


@dataclass(frozen=True)
class RunRow:
    """A run as stored, with its status and (once done) its final test metrics."""

    id: int
    study_id: int
    arrangement: str
    run_index: int
    seed: int
    dataset: str
    masked: bool
    config_json: str
    status: RunStatus
    attempts: int  # how many times a worker claimed it (a resumed run has attempts > 1)
    worker: str | None  # label of the worker that claimed it last
    worker_host: str | None
    worker_pid: int | None
    started_at: str | None  # when the current (or last) attempt was claimed
    finished_at: str | None
    wall_seconds: float | None
    checkpoint_path: str | None
    error: str | None
    test_accuracy: float | None
    test_loss: float | None
    last_epoch: int | None  # highest epoch recorded so far; where a resumed run continues

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(self.config_json)

    @property
    def label(self) -> str:
        """What the run trains, e.g. ``"MS_RST_biGRU+layernorm"`` for a study's layernorm
        runs of ``MS_RST_biGRU``; the arrangement itself when its config is the seed's.

        Computed from the stored model config rather than stored as a column: ``arrangement``
        stays the run's key, so stores written before labels existed read back unchanged
        and a re-run study matches its runs instead of training them again."""
        model = self.config.get("model")
        if not isinstance(model, dict):
            return self.arrangement
        return label_of_model_config(model, fallback=self.arrangement)


# The metric columns of the store's ``epochs`` table, in schema order (classifier runs).
EPOCH_METRIC_NAMES = (*CLASSIFIER_METRICS, "seconds")


def epoch_values(metrics: EpochMetrics) -> tuple[float | None, ...]:
    """Validated metric values of one epoch in :data:`EPOCH_METRIC_NAMES` order."""
    if metrics.kind != "classifier":
        raise ValueError(
            f"the result store holds classifier epochs; got {metrics.kind} metrics "
            f"{sorted(k for k, v in metrics.to_dict().items() if v is not None)}"
        )
    values = tuple(getattr(metrics, name) for name in EPOCH_METRIC_NAMES)
    for name, value in zip(EPOCH_METRIC_NAMES, values, strict=True):
        if value is not None:
            check_metric(name, value)
    return values


def check_metric(name: str, value: Any) -> float:
    """Validate one metric value: a real number; accuracies in [0, 1]; never NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value):
        # SQLite stores NaN as NULL, so it would come back as "missing"; say so now.
        raise ValueError(f"{name} is NaN; record it as None (missing) or fail the run")
    if name.endswith("accuracy") and not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1], got {value}")
    if name == "seconds" and value < 0:
        raise ValueError(f"seconds must be >= 0, got {value}")
    return value


@dataclass(frozen=True)
class EpochRow:
    """Stored metrics of one epoch of one run (the classifier fields of
    :class:`~rnnlab.train.EpochMetrics`)."""

    run_id: int
    epoch: int
    train_loss: float | None
    train_accuracy: float | None
    valid_loss: float | None
    valid_accuracy: float | None
    test_loss: float | None
    test_accuracy: float | None
    seconds: float | None
    recorded_at: str

