"""The files of a run directory, and :func:`load_run`, which loads any saved run back.

A classifier run (``rnnlab train``, :func:`~rnnlab.train.train_classifier`)::

    runs/x/
      checkpoint.pt   model, optimizer, RNG states, epoch, vocab, configs, metrics (atomic)
      checkpoint.pt.sha256  its SHA-256, checked on every load (see rnnlab.train.checkpoint)
      config.json     the resolved model/train/data config (human-readable copy)
      vocab.json      the vocabulary (also inside the checkpoint)
      metrics.json    {"epochs": [...one entry per epoch...], "final": {... test_accuracy,
                      test_loss, epoch, best_epoch, stopped_early ...}}

A language-model run (``rnnlab lm train``, :func:`~rnnlab.train.lm_run.train_language_model`)::

    runs/lm/
      checkpoint.pt   model, optimizer, configs, corpus spec, vocab, history, RNG state
      checkpoint.pt.sha256  its SHA-256
      history.json    {"epochs": [...one entry per epoch...], "final": {valid_perplexity,
                      test_perplexity} or null while training}

Which kind a directory holds is read from the checkpoint's ``"format"``. Every JSON file is
standard JSON: a NaN or infinite number is written as ``null`` (see :func:`dumps_json`).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, overload

import torch
from torch import nn

from rnnlab._epoch_metrics import EpochMetrics, RunKind
from rnnlab.data import EncodingConfig, Vocab
from rnnlab.models import ClassifierConfig, SequenceClassifier
from rnnlab.models.language_model import LanguageModel, LanguageModelConfig
from rnnlab.train.checkpoint import CheckpointError, load_checkpoint
from rnnlab.train.config import TrainConfig
from rnnlab.train.lm_loop import LMTrainConfig
from rnnlab.train.transfer import saved_classifier

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
VOCAB = "vocab.json"
METRICS = "metrics.json"
HISTORY = "history.json"  # a language-model run's metrics
CHECKPOINT_FORMAT = "rnnlab.classifier-run/1"
LM_CHECKPOINT_FORMAT = "rnnlab.lm/1"
_KINDS: dict[str, RunKind] = {
    CHECKPOINT_FORMAT: "classifier",
    LM_CHECKPOINT_FORMAT: "language_model",
}
_DESCRIPTIONS: dict[RunKind, str] = {
    "classifier": "a classifier run (`rnnlab train`)",
    "language_model": "a language-model run (`rnnlab lm train`)",
}


def json_safe(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by None, so it is valid JSON.

    ``json.dumps`` writes such floats as bare ``NaN``/``Infinity``, which no strict reader
    (``jq``, JavaScript, most languages' parsers) accepts.
    """
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(value) for value in data]
    return data


def dumps_json(data: Any, **options: Any) -> str:
    """Standard JSON text of ``data``: NaN and infinities become ``null`` (``allow_nan=False``
    guarantees none slips through)."""
    return json.dumps(json_safe(data), allow_nan=False, **options)


def run_checkpoint(run_dir: Path, holds: str, fix: str = "") -> Path:
    """``run_dir / CHECKPOINT``, which must exist: else a CheckpointError saying what the
    directory holds instead ("<run_dir> holds no <holds>: no checkpoint.pt (found [...])",
    then ``; fix`` when given)."""
    path = run_dir / CHECKPOINT
    if not path.is_file():
        found = sorted(p.name for p in run_dir.iterdir()) or "nothing"
        raise CheckpointError(f"{run_dir} holds no {holds}: no {CHECKPOINT} (found {found})"
                              + (f"; {fix}" if fix else ""))
    return path


def write_json(path: Path, data: Any) -> None:
    """Write standard JSON (see :func:`dumps_json`) atomically: a temporary file, then a
    rename, so readers never see half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(dumps_json(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def inference_state(payload: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights a finished run stands for: the best-valid epoch's if early stopping
    restored it, else the last epoch's."""
    best = payload.get("best_model")
    return best if payload.get("use_best") and best is not None else payload["model"]


@dataclass(frozen=True, eq=False)
class SavedRun:
    """A trained model loaded from a run directory, in eval mode; what every kind has."""

    kind: ClassVar[RunKind]
    run_dir: Path
    model: nn.Module
    vocab: Vocab
    history: tuple[EpochMetrics, ...]  # one record per completed epoch
    payload: dict[str, Any]  # the whole checkpoint, as loaded

    @property
    def epoch(self) -> int:
        """Completed epochs."""
        return int(self.payload["epoch"])


@dataclass(frozen=True, eq=False)
class SavedClassifierRun(SavedRun):
    """A classifier run: the model and what its inputs must be encoded with."""

    kind: ClassVar[RunKind] = "classifier"
    model: SequenceClassifier
    label_names: tuple[str, ...]
    encoding: EncodingConfig
    model_config: ClassifierConfig
    train_config: TrainConfig


@dataclass(frozen=True, eq=False)
class SavedLMRun(SavedRun):
    """A language-model run; ``corpus_spec`` says how to load its corpus again."""

    kind: ClassVar[RunKind] = "language_model"
    model: LanguageModel
    model_config: LanguageModelConfig
    train_config: LMTrainConfig
    corpus_spec: dict[str, Any]


@overload
def load_run(run_dir: str | os.PathLike[str], kind: Literal["classifier"]) -> SavedClassifierRun:
    ...


@overload
def load_run(run_dir: str | os.PathLike[str], kind: Literal["language_model"]) -> SavedLMRun:
    ...


@overload
def load_run(run_dir: str | os.PathLike[str], kind: None = None) -> SavedRun:
    ...


def load_run(run_dir: str | os.PathLike[str], kind: RunKind | None = None) -> SavedRun:
    """Load the run in ``run_dir`` (``checkpoint.pt``, ``weights_only=True``), in eval mode.

    The kind is read from the checkpoint: a :class:`SavedClassifierRun` or a
    :class:`SavedLMRun`. ``kind`` ("classifier" or "language_model") makes any other kind an
    error, for callers that can use only one.
    """
    if kind is not None and kind not in _DESCRIPTIONS:
        raise ValueError(f"kind must be one of {sorted(_DESCRIPTIONS)} or None, got {kind!r}")
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"run_dir={str(path)!r} does not exist; pass the --out "
                                f"directory of an `rnnlab train` or `rnnlab lm train` run")
    payload = load_checkpoint(run_checkpoint(path, "run"))
    saved_format = payload.get("format")
    if saved_format not in _KINDS:
        hint = ("; it is seed 000's next-word model: load it with rnnlab.train.nextword_run."
                "load_nextword_run" if saved_format == "rnnlab.nextword-run/1" else "")
        raise CheckpointError(
            f"{path / CHECKPOINT} is neither a classifier nor a language-model run: format "
            f"{saved_format!r}, expected one of {sorted(_KINDS)}{hint}"
        )
    found_kind = _KINDS[saved_format]
    if kind is not None and kind != found_kind:
        raise CheckpointError(f"{path} holds {_DESCRIPTIONS[found_kind]}, not "
                              f"{_DESCRIPTIONS[kind]}")
    if found_kind == "classifier":
        return _classifier_run(path, payload)
    return _language_model_run(path, payload)


def _classifier_run(path: Path, payload: dict[str, Any]) -> SavedClassifierRun:
    model_config = ClassifierConfig.from_dict(payload["model_config"])
    model = saved_classifier(model_config)
    model.load_state_dict(inference_state(payload))
    model.eval()
    return SavedClassifierRun(
        run_dir=path,
        model=model,
        vocab=Vocab.from_dict(payload["vocab"]),
        history=tuple(EpochMetrics.from_dict(m) for m in payload["metrics"]),
        payload=payload,
        label_names=tuple(payload["label_names"]),
        encoding=EncodingConfig(**payload["encoding"]),
        model_config=model_config,
        train_config=TrainConfig.from_dict(payload["train_config"]),
    )


def _language_model_run(path: Path, payload: dict[str, Any]) -> SavedLMRun:
    model_config = LanguageModelConfig(**payload["model_config"])
    model = LanguageModel(model_config)
    model.load_state_dict(payload["model"])
    model.eval()
    return SavedLMRun(
        run_dir=path,
        model=model,
        vocab=Vocab.from_dict(payload["vocab"]),
        history=tuple(EpochMetrics.from_dict(m) for m in payload["history"]),
        payload=payload,
        model_config=model_config,
        train_config=LMTrainConfig(**payload["train_config"]),
        corpus_spec=dict(payload["corpus_spec"]),
    )
