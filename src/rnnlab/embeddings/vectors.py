"""Word vectors on disk: what ``rnnlab embed word2vec --out DIR`` writes and alignment reads.

    DIR/
      vectors.npy     float32 (words, dim): row i is the vector of words[i]
      words.json      {"format": "rnnlab.word-vectors/1", "dim": 64, "words": [...],
                       "counts": [...], "config": {...}, "data": {...}}

The directory is written beside its final place and renamed into it, so a reader sees all of
it or none of it (a killed ``embed`` leaves no half directory). A word2vec text file
(``.txt``/``.vec``: a ``"<words> <dim>"`` header, then ``word v1 … vdim`` per line, as
gensim's ``save_word2vec_format`` and fastText write) is read too.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["VECTORS_FILE", "WORDS_FILE", "VectorsFileError", "WordVectors", "load_word_vectors"]

FORMAT = "rnnlab.word-vectors/1"
VECTORS_FILE = "vectors.npy"
WORDS_FILE = "words.json"
_MAKE = "make one with `rnnlab embed word2vec --data imdb --out DIR`"


class VectorsFileError(ValueError):
    """A path that does not hold word vectors; the message names the path and the fix."""


@dataclass(frozen=True, eq=False)
class WordVectors:
    """``vectors (words, dim)`` float32, ``words[i]`` the word of row i (unique)."""

    words: tuple[str, ...]
    vectors: np.ndarray
    counts: tuple[int, ...] = ()  # training-text frequency of each word (may be empty)
    meta: dict[str, Any] = field(default_factory=dict)  # config and data that produced them
    source: str = ""  # the path they were read from ("" when made in memory)

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.words):
            raise ValueError(f"vectors must be (words, dim) with one row per word "
                             f"({len(self.words)}), got shape {self.vectors.shape}")
        if len(set(self.words)) != len(self.words):
            raise ValueError("words must be unique")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index(self) -> dict[str, int]:
        return {word: row for row, word in enumerate(self.words)}

    def save(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write ``out_dir/vectors.npy`` and ``words.json`` atomically (a new directory)."""
        out = Path(out_dir)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise FileExistsError(f"--out {str(out)!r} already exists and is not an empty "
                                  "directory; choose another --out (nothing is overwritten)")
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0o700 would hide it from others
            np.save(staging / VECTORS_FILE, np.ascontiguousarray(self.vectors, np.float32))
            (staging / WORDS_FILE).write_text(json.dumps(
                {"format": FORMAT, "dim": self.dim, "words": list(self.words),
                 "counts": list(self.counts), **self.meta}, ensure_ascii=False),
                encoding="utf-8")
            if out.exists():
                out.rmdir()  # empty (checked above); os.replace cannot replace a directory
            os.replace(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_word_vectors(path: str | os.PathLike[str]) -> WordVectors:
    """Read an ``embed word2vec`` directory or a word2vec text file.

    Raises:
        VectorsFileError: naming ``path``, if it is missing or holds something else.
    """
    path = Path(path)
    where = f"word vectors {str(path)!r}"
    if not path.exists():
        raise VectorsFileError(f"{where} do not exist; {_MAKE}")
    if path.is_dir():
        return _read_directory(path, where)
    return _read_text(path, where)


def _read_directory(path: Path, where: str) -> WordVectors:
    if not (path / WORDS_FILE).is_file() or not (path / VECTORS_FILE).is_file():
        raise VectorsFileError(f"{where}: the folder holds no {WORDS_FILE} and {VECTORS_FILE}, "
                               f"so it is not a word-vectors directory; {_MAKE}")
    try:
        header = json.loads((path / WORDS_FILE).read_text(encoding="utf-8"))
        vectors = np.load(path / VECTORS_FILE, allow_pickle=False)
    except (ValueError, UnicodeDecodeError, OSError) as error:
        raise VectorsFileError(f"{where} cannot be read ({error}); {_MAKE}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise VectorsFileError(f"{where}/{WORDS_FILE} is not {FORMAT!r}; {_MAKE}")
    meta = {k: v for k, v in header.items() if k not in ("format", "dim", "words", "counts")}
    try:
        return WordVectors(tuple(header["words"]), vectors.astype(np.float32, copy=False),
                           tuple(header.get("counts", ())), meta, str(path))
    except (KeyError, ValueError) as error:
        raise VectorsFileError(f"{where} are inconsistent ({error}); {_MAKE}") from None


def _read_text(path: Path, where: str) -> WordVectors:
    """word2vec text format: an optional ``"<words> <dim>"`` header, then one word a line."""
    fix = ("expected the word2vec text format (a '<words> <dim>' header line, then "
           f"'word v1 ... vdim' per line) or an `rnnlab embed word2vec` folder; {_MAKE}")
    words, rows = [], []
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                parts = line.rstrip("\n").split(" ")
                if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    continue  # the header; the rows say the dimension themselves
                if len(parts) < 2:
                    raise VectorsFileError(f"{where}, line {number}: not 'word v1 ... vdim'; {fix}")
                try:
                    rows.append(np.asarray(parts[1:], dtype=np.float32))
                except ValueError:
                    raise VectorsFileError(f"{where}, line {number}: {parts[1][:20]!r} is not "
                                           f"a number; {fix}") from None
                if len(rows[-1]) != len(rows[0]):
                    raise VectorsFileError(f"{where}, line {number}: {len(rows[-1])} numbers, "
                                           f"but line 1 of the vectors has {len(rows[0])}")
                words.append(parts[0])
    except UnicodeDecodeError:
        raise VectorsFileError(f"{where} is not UTF-8 text; {fix}") from None
    if not rows:
        raise VectorsFileError(f"{where} holds no vectors; {fix}")
    if len(set(words)) != len(words):
        raise VectorsFileError(f"{where} lists a word twice; {fix}")
    return WordVectors(tuple(words), np.stack(rows), source=str(path))
