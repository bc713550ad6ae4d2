"""Part-of-speech tagging data from the Brown corpus: sentences of (word, tag) per split.

Documents, not sentences, are split (stratified by genre, seeded), so sentences of one text
never straddle train and test::

    500 documents --test_fraction of each genre--> test
                  --valid_fraction of each genre--> valid
                  --the rest-------------------->  train

``tag_names`` is every tag of the corpus (sorted), the tag set being a property of the
annotation scheme rather than of the training split; a tag id is its index there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from rnnlab.data.brown import Sentence, read_brown
from rnnlab.data.splits import check_fractions, stratified_split


@dataclass(frozen=True)
class TaggingDataset:
    """train/valid/test: tuples of sentences, each a tuple of (word, tag) pairs."""

    name: str
    train: tuple[Sentence, ...]
    valid: tuple[Sentence, ...]
    test: tuple[Sentence, ...]
    tag_names: tuple[str, ...]

    def tag_ids(self, sentence: Sentence) -> list[int]:
        """The tag ids of one sentence: (time,)."""
        index = {tag: i for i, tag in enumerate(self.tag_names)}
        return [index[tag] for _, tag in sentence]


def load_brown_tagging(
    path: str | os.PathLike[str] | None = None,
    *,
    simplify_tags: bool = True,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> TaggingDataset:
    """Brown sentences for tagging, split by document (see the module docstring)."""
    check_fractions(valid_fraction=valid_fraction, test_fraction=test_fraction)
    corpus = read_brown(path, simplify_tags=simplify_tags)
    genres = corpus.genres
    labels = np.array([genres.index(doc.genre) for doc in corpus.documents])
    rest, test = stratified_split(labels, test_fraction, seed)
    held = valid_fraction / (1.0 - test_fraction) if valid_fraction else 0.0
    train, valid = stratified_split(labels[rest], held, seed + 1)

    def sentences(index: np.ndarray) -> tuple[Sentence, ...]:
        return tuple(s for i in index for s in corpus.documents[int(i)].sentences)

    return TaggingDataset(
        "brown-tagging",
        sentences(rest[train]),
        sentences(rest[valid]),
        sentences(test),
        corpus.tags(),
    )
