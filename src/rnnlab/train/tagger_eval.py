"""Using a trained tagger: load its run, tag sentences, score a split, write the report.

    run = load_tagger_run("runs/tagger")                       # eval mode, best weights
    tag_sentences(run, [["The", "dog", "barked", "."]])        # [["DET", "NOUN", "VERB", "."]]
    scores, baseline = evaluate_tagging(run.model, run.vocabs, data, "test", train=data.train)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnlab.data.tagging import TaggingDataset
from rnnlab.models.tagger import Tagger, TaggerConfig
from rnnlab.train.checkpoint import CheckpointError, load_checkpoint
from rnnlab.train.metrics import EpochMetrics
from rnnlab.train.run_files import CHECKPOINT, run_checkpoint, write_json
from rnnlab.train.tagger_data import EncodedTagging, TaggerVocabs, encode_tagging
from rnnlab.train.tagger_report import (
    TaggingScores,
    format_report,
    most_frequent_tag_baseline,
    score_tags,
)

TAGGER_FORMAT = "rnnlab.tagger-run/1"
REPORT, REPORT_JSON = "report.md", "report.json"


@dataclass(frozen=True, eq=False)
class SavedTaggerRun:
    run_dir: Path
    model: Tagger
    vocabs: TaggerVocabs
    history: tuple[EpochMetrics, ...]
    data_spec: dict[str, Any]
    payload: dict[str, Any]


def load_tagger_run(run_dir: str | os.PathLike[str]) -> SavedTaggerRun:
    """The tagger in ``run_dir`` (best-valid weights when it has them), in eval mode."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"run directory {str(path)!r} does not exist; pass the --out "
                                f"directory of an `rnnlab tag train` run")
    payload = load_checkpoint(run_checkpoint(
        path, "tagger run", f"train one with `rnnlab tag train --out {path}`, or resume an "
                            "interrupted one with --resume"))
    if payload.get("format") != TAGGER_FORMAT:
        raise CheckpointError(f"{path / CHECKPOINT} is not a tagger run (format "
                              f"{payload.get('format')!r}); pass an `rnnlab tag train` run")
    model = Tagger(TaggerConfig.from_dict(payload["model_config"]))
    best = payload.get("best_model")
    model.load_state_dict(best if best is not None else payload["model"])
    model.eval()
    return SavedTaggerRun(path, model, TaggerVocabs.from_dict(payload["vocabs"]),
                          tuple(EpochMetrics.from_dict(m) for m in payload["metrics"]),
                          dict(payload["data_spec"]), payload)


def _chunks(encoded: EncodedTagging, batch_size: int) -> list[np.ndarray]:
    order = np.argsort(encoded.lengths, kind="stable")  # similar lengths: little padding
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


@torch.no_grad()
def predict_encoded(model: Tagger, encoded: EncodedTagging,
                    batch_size: int = 256) -> list[np.ndarray]:
    """Predicted tag ids per sentence, in input order."""
    model.eval()
    predicted: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(encoded)
    for index in _chunks(encoded, batch_size):
        batch = encoded.batch(index)
        emissions = model(batch["word_ids"], batch["char_ids"], batch["lengths"])
        tags = model.predict(emissions, batch["lengths"]).numpy()
        for row, i in enumerate(index):
            predicted[i] = tags[row, :encoded.lengths[i]]
    return predicted


@torch.no_grad()
def evaluate_encoded(model: Tagger, encoded: EncodedTagging,
                     batch_size: int = 256) -> tuple[float, float]:
    """(mean loss per token, token accuracy) of a tagged split; the model is left in eval."""
    model.eval()
    total_loss, correct, tokens = 0.0, 0, 0
    for index in _chunks(encoded, batch_size):
        batch = encoded.batch(index)
        emissions = model(batch["word_ids"], batch["char_ids"], batch["lengths"])
        count = int(batch["lengths"].sum())
        total_loss += float(model.loss(emissions, batch["tag_ids"], batch["lengths"])) * count
        predicted = model.predict(emissions, batch["lengths"])
        real = torch.arange(emissions.shape[1])[None, :] < batch["lengths"][:, None]
        correct += int(((predicted == batch["tag_ids"]) & real).sum())
        tokens += count
    return total_loss / tokens, correct / tokens


def tag_sentences(run: SavedTaggerRun, sentences: Sequence[Sequence[str]],
                  batch_size: int = 256) -> list[list[str]]:
    """Tags for token lists (one list of tag names per sentence)."""
    encoded = encode_tagging(sentences, run.vocabs, tagged=False)
    return [[run.vocabs.tags[int(t)] for t in tags]
            for tags in predict_encoded(run.model, encoded, batch_size)]


def evaluate_tagging(model: Tagger, vocabs: TaggerVocabs, data: TaggingDataset, split: str,
                     batch_size: int = 256) -> tuple[TaggingScores, TaggingScores]:
    """Scores of the tagger and of the most-frequent-tag baseline (fitted on ``data.train``)
    on ``split`` of ``data``, over the same tokens, known/unknown by the word vocabulary."""
    sentences = getattr(data, split)
    if not sentences:
        raise ValueError(f"the {split} split of {data.name} is empty; nothing to evaluate")
    encoded = encode_tagging(sentences, vocabs, source=f"{data.name} {split}")
    assert encoded.tags is not None
    known = [words != vocabs.words.unk_id for words in encoded.words]
    tagger = score_tags(encoded.tags, predict_encoded(model, encoded, batch_size), known,
                        vocabs.tags)
    baseline_ids = most_frequent_tag_baseline(data.train, sentences, vocabs.tags)
    baseline = score_tags(encoded.tags, baseline_ids, known, vocabs.tags)
    return tagger, baseline


def write_report(out_dir: Path, model: Tagger, vocabs: TaggerVocabs, data: TaggingDataset,
                 split: str, batch_size: int = 256) -> str:
    """Evaluate ``split`` and write report.md and report.json into ``out_dir``; the text."""
    tagger, baseline = evaluate_tagging(model, vocabs, data, split, batch_size)
    text = format_report(tagger, baseline, title=f"{data.name}, {split} split")
    temporary = out_dir / f".{REPORT}.tmp"
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, out_dir / REPORT)
    write_json(out_dir / REPORT_JSON, {"split": split, "data": data.name,
                                       "tagger": tagger.to_dict(),
                                       "most_frequent_tag": baseline.to_dict()})
    return text


__all__ = ["SavedTaggerRun", "evaluate_encoded", "evaluate_tagging",
           "load_tagger_run", "predict_encoded", "tag_sentences", "write_report"]
