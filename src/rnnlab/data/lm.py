"""Language-modelling corpora: word streams as id arrays, and the PTB text format.

An ``LMCorpus`` is three 1-D int64 id arrays and the vocabulary that maps them::

    text:   "the cat sat\\n a dog ran\\n"
    stream: the cat sat <eos> a dog ran <eos>
    ids:    [4, 9, 7, 1, 3, 8, 6, 1]           (train: (tokens,), likewise valid and test)

The vocabulary (``pad_token=None``) is ``<unk>`` = 0, ``<eos>`` = 1, then the training words by
frequency (ties by string). Words outside it map to ``<unk>``.

PTB format (Mikolov's ``ptb.{train,valid,test}.txt``): one sentence per line, tokens
separated by spaces, rare words already replaced by ``<unk>``; ``<eos>`` is appended to every
line, exactly as pytorch/examples ``word_language_model`` reads it (a blank line is a lone
``<eos>``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.data.errors import DataError, DataNotFoundError
from rnnlab.data.files import read_text
from rnnlab.data.vocab import UNK_TOKEN, Vocab, ranked_words

EOS_TOKEN = "<eos>"


@dataclass(frozen=True, eq=False)
class LMCorpus:
    """train/valid/test: (tokens,) int64 ids; vocab maps them (``<unk>`` 0, ``<eos>`` 1)."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    vocab: Vocab

    def summary(self) -> str:
        return (
            f"vocab {len(self.vocab):,}; tokens train {len(self.train):,}, "
            f"valid {len(self.valid):,}, test {len(self.test):,}"
        )


def lm_vocab(train_tokens: Iterable[str], min_count: int = 1) -> Vocab:
    """``<unk>``, ``<eos>``, then training tokens seen >= min_count times, by frequency."""
    counts = Counter(train_tokens)
    specials = (UNK_TOKEN, EOS_TOKEN)
    words = ranked_words(counts, min_count, exclude=specials)
    return Vocab(specials + tuple(words), pad_token=None, unk_token=UNK_TOKEN)


def lm_corpus(
    train: Sequence[str], valid: Sequence[str], test: Sequence[str], min_count: int = 1
) -> LMCorpus:
    """Fit the vocabulary on ``train`` tokens and encode the three token streams."""
    vocab = lm_vocab(train, min_count)

    def encode(tokens: Sequence[str]) -> np.ndarray:
        return np.asarray(vocab.encode(tokens), dtype=np.int64)

    return LMCorpus(encode(train), encode(valid), encode(test), vocab)


def read_ptb_file(path: str | os.PathLike[str]) -> list[str]:
    """The token stream of one PTB-format file, ``<eos>`` after every line."""
    if not Path(path).is_file():
        raise DataNotFoundError(
            f"path={str(path)!r} does not exist; expected a PTB-format text file "
            f"(one sentence per line), e.g. ptb.train.txt from Mikolov's simple-examples.tgz"
        )
    tokens: list[str] = []
    for line in read_text(path).splitlines():
        tokens.extend(line.split())
        tokens.append(EOS_TOKEN)
    return tokens


def read_ptb(
    path: str | os.PathLike[str] | None = None,
    *,
    train: str | os.PathLike[str] | None = None,
    valid: str | os.PathLike[str] | None = None,
    test: str | os.PathLike[str] | None = None,
) -> LMCorpus:
    """A PTB-format corpus: a folder with ``*train*.txt``, ``*valid*.txt``, ``*test*.txt``
    (e.g. ``ptb.train.txt``), or the three files by name. Vocabulary: every train token."""
    files = {"train": train, "valid": valid, "test": test}
    if path is not None:
        folder = Path(path)
        if not folder.is_dir():
            raise DataNotFoundError(
                f"path={str(path)!r} is not a folder; pass a folder holding ptb.train.txt, "
                f"ptb.valid.txt and ptb.test.txt, or the files as train=, valid=, test="
            )
        for split in files:
            if files[split] is None:
                matches = sorted(folder.glob(f"*{split}*.txt"))
                if len(matches) != 1:
                    raise DataError(
                        f"path={str(path)!r} must hold exactly one *{split}*.txt file, found "
                        f"{[m.name for m in matches]}"
                    )
                files[split] = matches[0]
    missing = [split for split, file in files.items() if file is None]
    if missing:
        raise DataError(f"read_ptb needs a folder (path=) or all three files; missing {missing}")
    streams = {split: read_ptb_file(file) for split, file in files.items()}  # type: ignore[arg-type]
    return lm_corpus(streams["train"], streams["valid"], streams["test"])
