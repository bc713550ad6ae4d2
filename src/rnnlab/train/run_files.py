"""The files of a run directory, and loading a saved run back for evaluation or prediction.

    runs/x/
      checkpoint.pt   model, optimizer, RNG states, epoch, vocab, configs, metrics (atomic)
      config.json     the resolved model/train/data config (human-readable copy)
      vocab.json      the vocabulary (also inside the checkpoint)
      metrics.json    {"epochs": [...one entry per epoch...], "final": {... test_accuracy,
                      test_loss, epoch, best_epoch, stopped_early ...}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnlab.data import EncodingConfig, Vocab
from rnnlab.models import ClassifierConfig, SequenceClassifier
from rnnlab.train.checkpoint import CheckpointError, load_checkpoint
from rnnlab.train.config import TrainConfig

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
VOCAB = "vocab.json"
METRICS = "metrics.json"
CHECKPOINT_FORMAT = "rnnlab.classifier-run/1"


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file, then rename), so readers never see half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def inference_state(payload: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights a finished run stands for: the best-valid epoch's if early stopping
    restored it, else the last epoch's."""
    best = payload.get("best_model")
    return best if payload.get("use_best") and best is not None else payload["model"]


@dataclass(frozen=True, eq=False)
class SavedRun:
    """A trained classifier loaded from a run directory, in eval mode."""

    model: SequenceClassifier
    vocab: Vocab
    label_names: tuple[str, ...]
    encoding: EncodingConfig
    model_config: ClassifierConfig
    train_config: TrainConfig
    payload: dict[str, Any]

    @property
    def epoch(self) -> int:
        return int(self.payload["epoch"])


def load_run(run_dir: str | os.PathLike[str]) -> SavedRun:
    """Load ``run_dir/checkpoint.pt`` (``weights_only=True``) into a ready model."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"run_dir={str(path)!r} does not exist; pass the --out "
                                f"directory of an `rnnlab train` run")
    payload = load_checkpoint(path / CHECKPOINT)
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path / CHECKPOINT} is not a classifier run checkpoint "
                              f"(format {payload.get('format')!r}, expected "
                              f"{CHECKPOINT_FORMAT!r})")
    model_config = ClassifierConfig.from_dict(payload["model_config"])
    model = SequenceClassifier(model_config)
    model.load_state_dict(inference_state(payload))
    model.eval()
    return SavedRun(
        model=model,
        vocab=Vocab.from_dict(payload["vocab"]),
        label_names=tuple(payload["label_names"]),
        encoding=EncodingConfig(**payload["encoding"]),
        model_config=model_config,
        train_config=TrainConfig.from_dict(payload["train_config"]),
        payload=payload,
    )
