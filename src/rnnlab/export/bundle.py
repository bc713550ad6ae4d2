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
      chars.json       taggers: the character vocabulary (rnnlab.vocab/1)
      crf.json         taggers with a CRF: {"transitions": [[from][to]], "start", "end"}

Inputs are always padded ids and lengths, never a PackedSequence (``inputs`` in bundle.json
names them, in order, with their axes)::

    ids      (batch, time) int64, padded with the vocabulary's pad id on ``padding``'s side
    lengths  (batch,)      int64, real tokens per row, in [1, time]

A tagger (kind "tagger", post padding) takes ``word_ids (batch, time)``, ``char_ids (batch,
time, chars)`` and ``lengths``, and outputs ``emissions (batch, time, tags)``; its labels.json
holds the tag names and ``decoder`` in bundle.json says how tags are read from the
emissions: "crf" (Viterbi with crf.json's scores) or "argmax".

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
CHARS = "chars.json"
CRF = "crf.json"
BUNDLE_FORMAT = "rnnlab.export/1"
MODEL_FILES = {"onnx": "model.onnx", "torch-export": "program.pt2"}
KINDS = ("classifier", "language_model", "tagger")
DECODERS = ("crf", "argmax")  # a tagger's, see the module docstring


@dataclass(frozen=True, eq=False)
class Bundle:
    """An export directory, read back: the manifest and every sidecar."""

    directory: Path
    manifest: dict[str, Any]  # bundle.json
    vocab: Vocab
    label_names: tuple[str, ...]  # () for a language model
    tokenizer: dict[str, Any]  # tokenizer.json
    config: dict[str, Any]  # config.json
    chars: Vocab | None = None  # chars.json (taggers)
    crf: dict[str, Any] | None = None  # crf.json (taggers with a CRF)

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
                   config: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    """Write every file but the model itself into ``directory`` (bundle.json last);
    ``extra`` maps further file names (chars.json, crf.json) to their JSON content."""
    for name, data in (extra or {}).items():
        write_json(directory / name, data)
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
    vocab = _read_vocab(path, VOCAB, "the vocabulary")
    labels = _read_json(path / LABELS, "the label names", path)
    chars, crf = (_read_tagger_files(path, manifest, len(labels.get("labels", ())))
                  if manifest["kind"] == "tagger" else (None, None))
    bundle = Bundle(
        directory=path,
        manifest=manifest,
        vocab=vocab,
        label_names=tuple(labels.get("labels", ())),
        tokenizer=_read_json(path / TOKENIZER, "the tokenizer settings", path),
        config=_read_json(path / CONFIG, "the model configuration", path),
        chars=chars,
        crf=crf,
    )
    if not bundle.model_path.is_file():
        raise FileNotFoundError(f"--model {str(path)!r} has no {bundle.model_path.name}; "
                                "export the run again")
    return bundle


def _read_vocab(path: Path, name: str, what: str) -> Vocab:
    try:
        return Vocab.from_dict(_read_json(path / name, what, path))
    except DataError as error:
        raise ValueError(f"--model {str(path)!r}: {name} is not a vocabulary ({error}); "
                         "export the run again") from None


def _read_tagger_files(path: Path, manifest: dict[str, Any], num_tags: int
                       ) -> tuple[Vocab, dict[str, Any] | None]:
    """A tagger's character vocabulary and, for a CRF decoder, its checked scores."""
    chars = _read_vocab(path, CHARS, "the character vocabulary")
    decoder = manifest.get("decoder")
    if decoder not in DECODERS:
        raise ValueError(f"--model {str(path)!r}: unknown decoder {decoder!r} in {BUNDLE}, "
                         f"expected one of {list(DECODERS)}; export the run again")
    if decoder == "argmax":
        return chars, None
    crf = _read_json(path / CRF, "the CRF's transition, start and end scores", path)
    shapes = {"transitions": [num_tags, num_tags], "start": [num_tags], "end": [num_tags]}
    for key, shape in shapes.items():
        value = crf.get(key) if isinstance(crf, dict) else None
        if not (isinstance(value, list) and len(value) == shape[0] and (
                len(shape) == 1 or all(isinstance(row, list) and len(row) == shape[1]
                                       for row in value))):
            raise ValueError(f"--model {str(path)!r}: {CRF} needs {key!r} of shape "
                             f"{tuple(shape)} for {num_tags} tags; export the run again")
    return chars, crf
