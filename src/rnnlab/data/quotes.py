"""Character-level text with quotations, and the per-character "inside a quotation" track.

Seed 003's quote detection (Karpathy, Johnson & Fei-Fei 2015): a character LSTM trained only
to predict the next character grows a cell that is on inside quotations. The text here is
Brown's running text (``data/brown.py``) or the user's file; the track marks, for every
character, whether a quotation is open *after reading it*, which is what a model's state
at that character can know::

    text    he said "no way" and left
    track   000000001111111000000000      the opening quote is 1, the closing one 0

Brown marks quotes with distinct tokens (`` opens, '' closes); they become a plain ``"``
(a model must count them, as in Karpathy's text). An opening mark inside an open quotation
(a speech running over paragraphs) and a closing mark outside one are dropped, and a
document that ends inside a quotation is closed, so every ``"`` toggles: the track is then
exactly what :func:`quote_track` computes from the text alone. A user's file is taken as it
is, with ``“`` opening, ``”`` closing and ``"`` toggling.

Held-out text: documents (Brown's 500 files, or a file's paragraphs) whose index ends in 8
go to valid and in 9 to test (every tenth, so each genre is represented), the rest train.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.data.errors import DataError

__all__ = ["QuoteCorpus", "brown_quote_documents", "detokenize", "load_quote_corpus",
           "quote_track"]

_OPEN, _CLOSE = "``", "''"
_NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "'", "--"}
_NO_SPACE_AFTER = {"(", "["}
MIN_SPLIT_CHARS = 100  # a split shorter than this cannot train or evaluate anything


@dataclass(frozen=True)
class QuoteCorpus:
    """Train/valid/test text with their tracks: ``*_track`` is ``(len(text),)`` int8."""

    source: str
    train: str
    valid: str
    test: str
    train_track: np.ndarray
    valid_track: np.ndarray
    test_track: np.ndarray

    def fraction_inside(self, split: str = "test") -> float:
        return float(getattr(self, f"{split}_track").mean())


def detokenize(words: list[str]) -> tuple[str, list[int]]:
    """Brown tokens to running text with ``"`` quotes, and where each quotation starts and
    ends: ``(text, toggles)``, toggles being the offsets of the kept ``"`` characters.

    >>> detokenize(["``", "No", ",", "''", "he", "said", "."])
    ('"No," he said.', [0, 4])
    """
    pieces: list[str] = []
    toggles: list[int] = []
    length, inside, glue = 0, False, True  # glue: no space before the next piece

    def emit(piece: str, space: bool) -> None:
        nonlocal length
        if space and pieces:
            pieces.append(" ")
            length += 1
        pieces.append(piece)
        length += len(piece)

    for word in words:
        if word == _OPEN:
            if inside:  # a speech running on: its paragraph re-opens it; keep one open
                continue
            emit('"', not glue)
            toggles.append(length - 1)
            inside, glue = True, True
        elif word == _CLOSE:
            if not inside:
                continue
            emit('"', False)
            toggles.append(length - 1)
            inside, glue = False, False
        else:
            emit(word, not glue and word not in _NO_SPACE_BEFORE)
            glue = word in _NO_SPACE_AFTER
    if inside:  # close what the document left open, so the next one starts outside
        emit('"', False)
        toggles.append(length - 1)
    return "".join(pieces), toggles


def quote_track(text: str) -> np.ndarray:
    """``(len(text),)`` int8: 1 where a quotation is open after reading the character.

    ``“`` opens, ``”`` closes, ``"`` toggles (closes if open, else opens).

    >>> quote_track('a "bc" d').tolist()
    [0, 0, 1, 1, 1, 0, 0, 0]
    """
    track = np.zeros(len(text), dtype=np.int8)
    inside = False
    for index, character in enumerate(text):
        if character == "“":
            inside = True
        elif character == "”":
            inside = False
        elif character == '"':
            inside = not inside
        track[index] = inside
    return track


def brown_quote_documents(path: str | os.PathLike[str] | None = None) -> list[str]:
    """Brown's 500 documents as running text with ``"`` quotes (see the module docstring)."""
    from rnnlab.data.brown import read_brown

    corpus = read_brown(path)
    return [detokenize(document.words())[0] for document in corpus.documents]


def _file_documents(path: Path) -> list[str]:
    from rnnlab.data.files import read_text

    text = read_text(path, argument="dataset")
    documents = [part.strip() for part in text.replace("\r\n", "\n").split("\n\n")]
    return [document for document in documents if document]


def load_quote_corpus(source: str | os.PathLike[str] = "brown", *,
                      max_train_chars: int | None = None) -> QuoteCorpus:
    """Text with quotations, split into train/valid/test documents (every tenth held out).

    ``source``: "brown" (the Brown corpus, found as ``read_brown`` finds it), or a path to a
    UTF-8 text file whose paragraphs (blank-line separated) are the documents.
    ``max_train_chars`` keeps only the first characters of the training text (a quick run).

    Raises:
        DataNotFoundError: no Brown corpus, or no such file.
        DataError: a text without a single quotation in its held-out part, or too short.
    """
    if max_train_chars is not None and (isinstance(max_train_chars, bool) or not isinstance(
            max_train_chars, int) or max_train_chars < MIN_SPLIT_CHARS):
        raise ValueError(f"max_train_chars must be an int >= {MIN_SPLIT_CHARS} or None, got "
                         f"{max_train_chars!r}")
    if str(source) == "brown":
        documents, name = brown_quote_documents(), "brown"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(
                f"dataset {str(source)!r} is neither 'brown' nor a text file; give the path "
                "of a UTF-8 text file with quotations, or 'brown'")
        documents, name = _file_documents(path), str(path)
    if len(documents) < 10:
        # Too few paragraphs to hold every tenth out: cut the text into ten pieces instead.
        whole = "\n\n".join(documents)
        size = -(-len(whole) // 10)
        documents = [whole[start:start + size] for start in range(0, len(whole), size)]
    splits: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for index, document in enumerate(documents):
        split = {8: "valid", 9: "test"}.get(index % 10, "train")
        splits[split].append(document)
    texts = {split: "\n\n".join(parts) for split, parts in splits.items()}
    if max_train_chars is not None:
        texts["train"] = texts["train"][:max_train_chars]
    for split, text in texts.items():
        if len(text) < MIN_SPLIT_CHARS:
            raise DataError(f"dataset {name!r}: its {split} part has {len(text)} characters; "
                            f"need at least {MIN_SPLIT_CHARS} (give a longer text)")
    tracks = {split: quote_track(text) for split, text in texts.items()}
    for split in ("valid", "test"):
        if not 0 < tracks[split].mean() < 1:
            raise DataError(
                f"dataset {name!r}: its held-out {split} text (every tenth paragraph) has no "
                "quotation (no \" or “ ” pair), so no unit can be tested for tracking one; "
                "give a text with quoted speech")
    return QuoteCorpus(name, texts["train"], texts["valid"], texts["test"],
                       tracks["train"], tracks["valid"], tracks["test"])
