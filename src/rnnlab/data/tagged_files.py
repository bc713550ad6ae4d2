"""The user's own tagged sentences: a folder of train/valid/test files, in one of two formats.

    my-corpus/
      train.tsv    (or train.jsonl)   required
      valid.tsv                       optional (empty split if absent)
      test.tsv                        optional

``.jsonl``: one sentence per line, ``{"tokens": ["The", "dog"], "tags": ["DET", "NOUN"]}``.
Any other extension (``.tsv``, ``.conll``, ``.txt``): one token per line, the word and its tag
separated by whitespace (a tab or spaces), a blank line between sentences (CoNLL style)::

    The     DET
    dog     NOUN
                       <- blank line: the sentence ends
    It      PRON

A sentence with more tokens than tags (or the other way round), a line that is not
``word tag``, or an empty file is a DataError naming the file and line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rnnlab.data.brown import Sentence
from rnnlab.data.errors import DataError, DataNotFoundError
from rnnlab.data.files import read_text

SPLITS = ("train", "valid", "test")
_EXTENSIONS = (".jsonl", ".tsv", ".conll", ".txt")


def read_tagged_file(path: str | os.PathLike[str]) -> tuple[Sentence, ...]:
    """The sentences of one tagged file (format chosen by the extension, see above)."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"tagged file {str(path)!r} does not exist; give a .jsonl or "
                                f"word-tag (.tsv/.conll/.txt) file")
    text = read_text(path, "tagged file")
    sentences = _read_jsonl(text, path) if path.suffix == ".jsonl" else _read_columns(text, path)
    if not sentences:
        raise DataError(f"{path} holds no tagged sentences")
    return sentences


def _read_jsonl(text: str, path: Path) -> tuple[Sentence, ...]:
    sentences = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: not valid JSON ({error.msg})") from None
        tokens = record.get("tokens") if isinstance(record, dict) else None
        tags = record.get("tags") if isinstance(record, dict) else None
        if not _strings(tokens) or not _strings(tags):
            raise DataError(f'{where}: expected {{"tokens": [...], "tags": [...]}}, two lists '
                            f"of strings")
        if len(tokens) != len(tags):
            raise DataError(f"{where}: {len(tokens)} tokens but {len(tags)} tags; give exactly "
                            f"one tag per token")
        if tokens:
            sentences.append(tuple(zip(tokens, tags, strict=True)))
    return tuple(sentences)


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item for item in value)


def _read_columns(text: str, path: Path) -> tuple[Sentence, ...]:
    sentences: list[Sentence] = []
    current: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            if current:
                sentences.append(tuple(current))
            current = []
            continue
        if len(fields) != 2:
            found = "a token without a tag" if len(fields) == 1 else f"{len(fields)} fields"
            raise DataError(f"{path}, line {number}: expected 'word<TAB>tag', found {found} "
                            f"({line.strip()[:60]!r}); give one token and its tag per line, a "
                            f"blank line between sentences")
        current.append((fields[0], fields[1]))
    if current:
        sentences.append(tuple(current))
    return tuple(sentences)


def find_split_file(folder: Path, split: str) -> Path | None:
    """``folder/<split>.<ext>`` for the first extension that exists, else None."""
    for extension in _EXTENSIONS:
        candidate = folder / f"{split}{extension}"
        if candidate.is_file():
            return candidate
    return None


def read_tagged_folder(path: str | os.PathLike[str],
                       require_train: bool = True) -> dict[str, tuple[Sentence, ...]]:
    """``{"train": ..., "valid": ..., "test": ...}`` from a folder (a missing split is empty;
    a missing train file an error unless ``require_train`` is False)."""
    folder = Path(path)
    if not folder.is_dir():
        raise DataNotFoundError(
            f"--data {str(folder)!r} is not a folder; give 'brown' or a folder holding "
            f"train.tsv or train.jsonl (and optionally valid.* and test.*)")
    splits: dict[str, tuple[Sentence, ...]] = {}
    for split in SPLITS:
        found = find_split_file(folder, split)
        if found is None and split == "train" and require_train:
            raise DataNotFoundError(
                f"{folder} has no train file; expected one of "
                f"{[f'train{e}' for e in _EXTENSIONS]}")
        splits[split] = () if found is None else read_tagged_file(found)
    return splits
