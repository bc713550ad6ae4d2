"""Texts to pretrain seed 000's next-word model on, named by a small JSON-ready config.

    load_nextword_texts(NextWordDataConfig(data="imdb-short"))   # IMDB training reviews
    load_nextword_texts(NextWordDataConfig(data="brown"))        # Brown sentences
    load_nextword_texts(NextWordDataConfig(data="notes.txt"))    # one text per line

Each source gives training texts and held-out validation texts, as token lists. A test split
is never read: the model is pretrained for transfer to a classifier that is scored on it.

============  ====================================  =========================================
``data``      train                                 valid (held-out next-word scores)
============  ====================================  =========================================
imdb(-short)  the IMDB training reviews              the valid split held out of them
              (minus valid)                          (``valid_fraction`` per label, seeded)
brown         sentences of the first 800,000 words   sentences of the next 200,000 words
                                                     (Bengio et al. 2003's split, as
                                                     ``rnnlab lm train --corpus brown``)
FILE.txt      its non-blank lines, one text each     ``valid_fraction`` of the lines, seeded
other path    ``load_dataset(path)``'s train texts   its valid texts
============  ====================================  =========================================

Tokens are :func:`rnnlab.data.text.tokenize`'s (lower case); Brown's words are already
tokens and are only lower-cased.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab._config import check_known_keys
from rnnlab.data.brown import BrownLMConfig, read_brown
from rnnlab.data.datasets import load_dataset
from rnnlab.data.errors import DataError
from rnnlab.data.files import read_text
from rnnlab.data.splits import check_fractions
from rnnlab.data.text import tokenize_all

__all__ = ["NextWordDataConfig", "NextWordTexts", "load_nextword_texts"]

NAMED_SOURCES = ("imdb-short", "imdb", "brown")


@dataclass(frozen=True)
class NextWordDataConfig:
    """Which texts, and how they become sequences (defaults: seed 000's RESULTS.md run)."""

    data: str = "imdb-short"  # imdb-short | imdb | brown | a .txt file | a dataset path
    vocab_size: int = 5_000  # ids, <pad> <unk> <s> </s> included
    max_tokens: int = 50  # words kept per text (imdb-short has at most 100)
    max_texts: int | None = None  # train on the first N texts only (None: all)
    valid_fraction: float = 0.1  # held out of the training texts (imdb and .txt files)
    split_seed: int = 0  # which texts are held out
    brown_path: str | None = None  # the Brown corpus (None: the usual places)

    def __post_init__(self) -> None:
        if self.vocab_size < 5:
            raise ValueError(f"vocab_size must be >= 5 (<pad> <unk> <s> </s> take ids 0-3), "
                             f"got {self.vocab_size}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.max_texts is not None and self.max_texts < 1:
            raise ValueError(f"max_texts must be >= 1 or None, got {self.max_texts}")
        check_fractions(valid_fraction=self.valid_fraction)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NextWordDataConfig:
        """Inverse of :meth:`to_dict`; an unknown key is an error."""
        check_known_keys(data, cls, "NextWordDataConfig key")
        return cls(**data)


@dataclass(frozen=True, eq=False)
class NextWordTexts:
    """Token lists: ``train`` to fit the vocabulary and train on, ``valid`` to score."""

    name: str
    train: list[list[str]]
    valid: list[list[str]]

    def summary(self) -> str:
        tokens = sum(len(text) for text in self.train)
        return (f"{self.name}: {len(self.train):,} train texts ({tokens:,} tokens), "
                f"{len(self.valid):,} valid texts")


def resolved(config: NextWordDataConfig) -> NextWordDataConfig:
    """Paths made absolute, so a run resumed from another directory finds its texts."""
    data = config.data if config.data in NAMED_SOURCES else str(Path(config.data).resolve())
    brown = None if config.brown_path is None else str(Path(config.brown_path).resolve())
    return NextWordDataConfig(**{**asdict(config), "data": data, "brown_path": brown})


def load_nextword_texts(config: NextWordDataConfig) -> NextWordTexts:
    """The train and valid texts ``config`` names (see the module table); never a test split."""
    if config.data == "brown":
        train, valid = _brown_sentences(config.brown_path)
    elif config.data in ("imdb", "imdb-short"):
        train, valid = _dataset_texts(config.data, config)
    elif config.data.endswith(".txt"):
        train, valid = _text_file_lines(config.data, config)
    else:
        train, valid = _dataset_texts(config.data, config)
    train = [text for text in train[: config.max_texts] if text]
    valid = [text for text in valid if text]
    if not train or not valid:
        empty = "train" if not train else "valid"
        raise DataError(
            f"data={config.data!r} gives no {empty} text with a token: give more text (a .txt "
            f"file needs >= 2 non-blank lines) or a larger valid_fraction (--valid-fraction, "
            f"now {config.valid_fraction:g})")
    return NextWordTexts(Path(config.data).name or config.data, train, valid)


def _dataset_texts(
    name: str, config: NextWordDataConfig
) -> tuple[list[list[str]], list[list[str]]]:
    dataset = load_dataset(name, valid_fraction=config.valid_fraction, seed=config.split_seed)
    return tokenize_all(dataset.train.texts), tokenize_all(dataset.valid.texts)


def _text_file_lines(
    path: str | os.PathLike[str], config: NextWordDataConfig
) -> tuple[list[list[str]], list[list[str]]]:
    if not Path(path).is_file():
        raise DataError(f"data={str(path)!r} does not exist; pass imdb-short, imdb, brown or "
                        "a .txt file with one text per line")
    lines = [line for line in read_text(path, "data").splitlines() if line.strip()]
    held = np.zeros(len(lines), dtype=bool)
    count = round(config.valid_fraction * len(lines))
    if len(lines) >= 2 and config.valid_fraction > 0:
        count = min(max(count, 1), len(lines) - 1)  # at least one line each side
        order = np.random.default_rng(config.split_seed).permutation(len(lines))
        held[order[:count]] = True
    texts = tokenize_all(lines)
    return ([t for t, h in zip(texts, held, strict=True) if not h],
            [t for t, h in zip(texts, held, strict=True) if h])


def _brown_sentences(path: str | None) -> tuple[list[list[str]], list[list[str]]]:
    split = BrownLMConfig()
    train: list[list[str]] = []
    valid: list[list[str]] = []
    words = 0
    for sentence in read_brown(path).tagged_sentences():
        if words >= split.train_words + split.valid_words:
            break  # the rest is the test part: never used
        (train if words < split.train_words else valid).append(
            [word.lower() for word, _ in sentence])
        words += len(sentence)
    return train, valid
