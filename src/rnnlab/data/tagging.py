"""Part-of-speech tagging data from the Brown corpus: sentences of (word, tag) per split.

Documents, not sentences, are split (stratified by genre, seeded), so sentences of one text
never straddle train and test::

    500 documents --test_fraction of each genre--> test
                  --valid_fraction of each genre--> valid
                  --the rest-------------------->  train

``tag_names`` is every tag of the corpus (sorted), the tag set being a property of the
annotation scheme rather than of the training split; a tag id is its index there.

Three tag sets (``tagset=``)::

    "brown"       the 472 original tags, lower-cased        (np-tl, fw-nn, dod*, ...)
    "simplified"  174 tags: decorations stripped (simplify_tag; np-tl -> np, dod* -> dod)
    "universal"   the 12 universal tags of Petrov, Das & McDonald (2012), "A Universal
                  Part-of-Speech Tagset" (LREC): NOUN VERB ADJ ADV PRON DET ADP NUM CONJ PRT
                  . X — mapped from the original tags by their en-brown.map (bundled as
                  rnnlab/data/bundled/en-brown.map, from github.com/slavpetrov/universal-pos-
                  tags; the same table NLTK uses for ``brown.tagged_sents(tagset="universal")``)

The universal map is applied to the original tags, not the simplified ones, so foreign words
(``fw-nn``) become ``X`` as in NLTK rather than ``NOUN``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from rnnlab.data.brown import BrownCorpus, BrownDocument, Sentence, read_brown
from rnnlab.data.errors import DataError
from rnnlab.data.splits import check_fractions, stratified_split

TAGSETS = ("universal", "simplified", "brown")
UNIVERSAL_TAGS = (".", "ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRON", "PRT", "VERB",
                  "X")  # fmt: skip


@cache
def universal_tag_map() -> dict[str, str]:
    """Original Brown tag (lower-case) -> universal tag: the 472 rows of en-brown.map."""
    text = resources.files("rnnlab.data").joinpath("bundled/en-brown.map").read_text("utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line.strip())
    return {brown.lower(): universal.strip() for brown, universal in rows}


def to_universal(corpus: BrownCorpus) -> BrownCorpus:
    """``corpus`` (read with its original tags) with every tag mapped to a universal one."""
    table = universal_tag_map()
    documents = []
    for doc in corpus.documents:
        sentences = []
        for number, sentence in enumerate(doc.sentences, start=1):
            try:
                sentences.append(tuple((word, table[tag]) for word, tag in sentence))
            except KeyError as error:
                raise DataError(
                    f"brown/{doc.fileid}, sentence {number}: tag {error.args[0]!r} is not in "
                    f"en-brown.map; read the corpus with tagset='brown' or 'simplified'"
                ) from None
        documents.append(BrownDocument(doc.fileid, doc.genre, tuple(sentences)))
    return BrownCorpus(tuple(documents))


def check_tagset(tagset: str) -> str:
    """``tagset`` if it is one of :data:`TAGSETS`, else a DataError naming the choices."""
    if tagset not in TAGSETS:
        raise DataError(f"tagset must be one of {list(TAGSETS)}, got {tagset!r}")
    return tagset


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
    tagset: str | None = None,
) -> TaggingDataset:
    """Brown sentences for tagging, split by document (see the module docstring).

    ``tagset`` ("universal", "simplified" or "brown") overrides ``simplify_tags`` (True is
    "simplified", False "brown"); the split does not depend on the tag set.
    """
    check_fractions(valid_fraction=valid_fraction, test_fraction=test_fraction)
    if tagset is None:
        tagset = "simplified" if simplify_tags else "brown"
    check_tagset(tagset)
    corpus = read_brown(path, simplify_tags=tagset == "simplified")
    if tagset == "universal":
        corpus = to_universal(corpus)
    genres = corpus.genres
    labels = np.array([genres.index(doc.genre) for doc in corpus.documents])
    rest, test = stratified_split(labels, test_fraction, seed)
    held = valid_fraction / (1.0 - test_fraction) if valid_fraction else 0.0
    train, valid = stratified_split(labels[rest], held, seed + 1)

    def sentences(index: np.ndarray) -> tuple[Sentence, ...]:
        return tuple(s for i in index for s in corpus.documents[int(i)].sentences)

    return TaggingDataset(
        "brown-tagging" if tagset == "simplified" else f"brown-tagging-{tagset}",
        sentences(rest[train]),
        sentences(rest[valid]),
        sentences(test),
        UNIVERSAL_TAGS if tagset == "universal" else corpus.tags(),
    )


def load_tagged_folder(path: str | os.PathLike[str],
                       require_train: bool = True) -> TaggingDataset:
    """The user's tagged train/valid/test files (see :mod:`rnnlab.data.tagged_files`); the tag
    set is every tag of the three files, sorted."""
    from rnnlab.data.tagged_files import read_tagged_folder

    splits = read_tagged_folder(path, require_train)
    tags = sorted({tag for sentences in splits.values() for s in sentences for _, tag in s})
    return TaggingDataset(f"tagged:{os.fspath(path)}", splits["train"], splits["valid"],
                          splits["test"], tuple(tags))


def load_tagging_data(
    data: str,
    *,
    tagset: str | None = None,
    brown_path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.1,
    max_train_sentences: int | None = None,
) -> TaggingDataset:
    """``data="brown"`` (split by documents; ``tagset`` default "universal") or a folder of
    tagged files (which carry their own tags, so ``tagset`` must be None); the first
    ``max_train_sentences`` training sentences only, if given (valid and test stay whole)."""
    if data == "brown":
        dataset = load_brown_tagging(brown_path, tagset=tagset or "universal", seed=seed,
                                     valid_fraction=valid_fraction, test_fraction=test_fraction)
    elif tagset is not None:
        raise DataError(f"--tagset {tagset!r} applies to --data brown only; the files in "
                        f"{data!r} carry their own tags, so leave --tagset out")
    else:
        dataset = load_tagged_folder(data)
    if max_train_sentences is not None:
        if max_train_sentences < 1:
            raise DataError(f"max_train_sentences must be >= 1, got {max_train_sentences}")
        dataset = TaggingDataset(dataset.name, dataset.train[:max_train_sentences],
                                 dataset.valid, dataset.test, dataset.tag_names)
    return dataset
