"""The files of an export directory, written beside the model and read back without torch.

``rnnlab export RUN_DIR --format onnx --out DIR`` writes::

    DIR/
      model.onnx       the graph (``--format onnx``), or program.pt2 (``--format torch-export``)
      bundle.json      what the graph is: kind, model file, inputs and outputs with their axes,
                       padding side, time axis (dynamic or fixed), validation result, versions
      vocab.json       the run's vocabulary (rnnlab.vocab/1)
      labels.json      {"labels": [...]} the class names, in output order (classifiers)
      tokenizer.json   {"tokenizer": {...}, "encoding": {...}}: how text becomes ids
      config.json      the run's model (and training) configuration, for the record

Inputs are always padded ids and lengths, never a PackedSequence::

    ids      (batch, time) int64, padded with the vocabulary's pad id on ``padding``'s side
    lengths  (batch,)      int64, real tokens per row, in [1, time]

This module depends on the standard library and :mod:`rnnlab.data` only, so a predictor can
read a bundle in a process that never imports torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnlab.data.errors import DataError
from rnnlab.data.vocab import Vocab

BUNDLE = "bundle.json"
VOCAB = "vocab.json"
LABELS = "labels.json"
TOKENIZER = "tokenizer.json"
CONFIG = "config.json"
BUNDLE_FORMAT = "rnnlab.export/1"
MODEL_FILES = {"onnx": "model.onnx", "torch-export": "program.pt2"}
KINDS = ("classifier", "language_model")


@dataclass(frozen=True, eq=False)
class Bundle:
    """An export directory, read back: the manifest and every sidecar."""

    directory: Path
    manifest: dict[str, Any]  # bundle.json
    vocab: Vocab
    label_names: tuple[str, ...]  # () for a language model
    tokenizer: dict[str, Any]  # tokenizer.json
    config: dict[str, Any]  # config.json

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def model_format(self) -> str:
        return self.manifest["model_format"]

    @property
    def model_path(self) -> Path:
        return self.directory / self.manifest["model_file"]

    @property
    def padding(self) -> str:
        return self.manifest["padding"]

    @property
    def time(self) -> int | None:
        """The fixed time axis of the graph, or None when any time is accepted."""
        return self.manifest["time"]


def write_json(path: Path, data: Any) -> None:
    """Standard JSON (no NaN), UTF-8, indented."""
    path.write_text(json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def write_sidecars(directory: Path, manifest: dict[str, Any], vocab: Vocab,
                   label_names: tuple[str, ...], tokenizer: dict[str, Any],
                   config: dict[str, Any]) -> None:
    """Write every file but the model itself into ``directory`` (bundle.json last)."""
    write_json(directory / VOCAB, vocab.to_dict())
    write_json(directory / LABELS, {"labels": list(label_names)})
    write_json(directory / TOKENIZER, tokenizer)
    write_json(directory / CONFIG, config)
    write_json(directory / BUNDLE, {"format": BUNDLE_FORMAT, **manifest})


def _read_json(path: Path, what: str, model_dir: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"--model {str(model_dir)!r} has no {path.name} ({what}); the export is "
            f"incomplete: export the run again with `rnnlab export RUN_DIR --out "
            f"{model_dir}`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"--model {str(model_dir)!r}: {path.name} ({what}) is not valid JSON "
                         f"({error}); export the run again") from None


def read_bundle(directory: str | os.PathLike[str]) -> Bundle:
    """Read the export directory ``directory``; a clear error names any missing piece."""
    path = Path(directory)
    if not path.is_dir():
        raise FileNotFoundError(f"--model {str(path)!r} is not a directory; pass the --out "
                                "directory of `rnnlab export`")
    manifest = _read_json(path / BUNDLE, "the export manifest", path)
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ValueError(f"--model {str(path)!r}: {BUNDLE} has format {got!r}, expected "
                         f"{BUNDLE_FORMAT!r}; export the run again with this rnnlab")
    if manifest.get("kind") not in KINDS:
        raise ValueError(f"--model {str(path)!r}: unknown kind {manifest.get('kind')!r} in "
                         f"{BUNDLE}, expected one of {list(KINDS)}")
    try:
        vocab = Vocab.from_dict(_read_json(path / VOCAB, "the vocabulary", path))
    except DataError as error:
        raise ValueError(f"--model {str(path)!r}: {VOCAB} is not a vocabulary ({error}); "
                         "export the run again") from None
    labels = _read_json(path / LABELS, "the label names", path)
    bundle = Bundle(
        directory=path,
        manifest=manifest,
        vocab=vocab,
        label_names=tuple(labels.get("labels", ())),
        tokenizer=_read_json(path / TOKENIZER, "the tokenizer settings", path),
        config=_read_json(path / CONFIG, "the model configuration", path),
    )
    if not bundle.model_path.is_file():
        raise FileNotFoundError(f"--model {str(path)!r} has no {bundle.model_path.name}; "
                                "export the run again")
    return bundle
