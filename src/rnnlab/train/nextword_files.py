"""A next-word run's files, and :func:`load_nextword_run`, which loads one back.

    run = load_nextword_run("runs/bilm")
    run.model                   # BidirectionalLM, eval mode, the last epoch's weights
    run.vocab                   # rnnlab.data.Vocab: <pad> <unk> <s> </s>, then by frequency
    run.config                  # config.json: {"format", "variant", "model", "train", "data"}
    run.metrics                 # {"epochs": [...], "final": {... "leak_audit": ...} or None}
    run.encode(["a text"])      # NextWordData, encoded as in training (<s> words </s>)

The directory layout is in :mod:`rnnlab.train.nextword_run`. Everything is read from the
checkpoint (``weights_only=True``, its SHA-256 checked), so the loaded numbers are the ones
the weights were saved with; ``metrics.json`` and ``config.json`` are copies for people.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnlab.data import Vocab, tokenize_all
from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from rnnlab.train.checkpoint import CheckpointError, load_checkpoint
from rnnlab.train.lm_nextword import NextWordData, encode_reviews
from rnnlab.train.run_files import CHECKPOINT, CONFIG, VOCAB, run_checkpoint, write_json

NEXTWORD_FORMAT = "rnnlab.nextword-run/1"
_HOW_TO_TRAIN = "train one with `rnnlab lm nextword --out DIR` (add --resume to finish an " \
                "interrupted run)"


def variant_of(config: BidirectionalLMConfig) -> str:
    """"fixed", "leaky" (seed 000's whole bug) or "leaky-lstm1" (its LSTM1 half)."""
    return "leaky" if config.leaky else "leaky-lstm1" if config.leaky_lstm1_only else "fixed"


def config_record(model: BidirectionalLMConfig, train: dict[str, Any],
                  data: dict[str, Any]) -> dict[str, Any]:
    """``config.json``: the resolved configs of a run."""
    return {"format": NEXTWORD_FORMAT, "variant": variant_of(model), "model": model.to_dict(),
            "train": train, "data": data}


def write_run_files(run_dir: Path, record: dict[str, Any], vocab: Vocab) -> None:
    """``config.json`` and ``vocab.json`` (both written atomically)."""
    write_json(run_dir / CONFIG, record)
    write_json(run_dir / VOCAB, vocab.to_dict())


@dataclass(frozen=True, eq=False)
class NextWordRun:
    """A trained seed-000 model loaded from its run directory (see the module docstring)."""

    model: BidirectionalLM
    vocab: Vocab
    config: dict[str, Any]
    metrics: dict[str, Any]
    run_dir: Path

    @property
    def variant(self) -> str:
        return str(self.config["variant"])

    @property
    def epoch(self) -> int:
        """Completed epochs."""
        return len(self.metrics["epochs"])

    @property
    def leak_audit(self) -> dict[str, Any] | None:
        """The audit's verdict (``passed``, ``flag`` ...), None if training did not finish."""
        final = self.metrics.get("final")
        return None if final is None else final["leak_audit"]

    def encode(self, texts: Sequence[str]) -> NextWordData:
        """Raw texts → ids ``(texts, time)`` and lengths ``(texts,)``, as in training:
        tokenized, cut to the run's ``max_tokens``, ``<s> … </s>``, post-padded."""
        return encode_reviews(tokenize_all(texts), self.vocab,
                              int(self.config["data"]["max_tokens"]))


def load_nextword_run(run_dir: str | os.PathLike[str]) -> NextWordRun:
    """Load the run ``rnnlab lm nextword --out run_dir`` wrote; the model in eval mode."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"run_dir={str(path)!r} does not exist; pass the --out "
                                f"directory of a next-word run, or {_HOW_TO_TRAIN}")
    return nextword_run_from_payload(
        path, load_checkpoint(run_checkpoint(path, "next-word run", _HOW_TO_TRAIN)))


def nextword_run_from_payload(path: Path, payload: dict[str, Any]) -> NextWordRun:
    """A :class:`NextWordRun` from a checkpoint already read from ``path``."""
    if payload.get("format") != NEXTWORD_FORMAT:
        raise CheckpointError(
            f"{path / CHECKPOINT} is not a next-word run (format {payload.get('format')!r}, "
            f"expected {NEXTWORD_FORMAT!r}); load it with rnnlab.train.load_run, or "
            f"{_HOW_TO_TRAIN}")
    model_config = BidirectionalLMConfig.from_dict(payload["model_config"])
    model = BidirectionalLM(model_config)
    model.load_state_dict(payload["model"])
    model.eval()
    return NextWordRun(
        model=model,
        vocab=Vocab.from_dict(payload["vocab"]),
        config=config_record(model_config, payload["train_config"], payload["data_config"]),
        metrics={"epochs": list(payload["history"]), "final": payload.get("final")},
        run_dir=path,
    )


def is_nextword_dir(run_dir: str | os.PathLike[str]) -> bool:
    """Whether ``run_dir``'s ``config.json`` says it is a next-word run (trained or begun);
    the checkpoint's own format is checked again when it is loaded."""
    import json

    try:
        record = json.loads((Path(run_dir) / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("format") == NEXTWORD_FORMAT
