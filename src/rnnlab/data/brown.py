"""The Brown corpus (Francis & Kučera, 1964/1979), tagged form, as distributed by NLTK.

Layout read (a ``brown/`` folder, its parent, or a ``.tar.gz`` holding it)::

    brown/ca01 ... brown/cr09   500 texts; one sentence per line, tokens as word/tag
    brown/cats.txt              "ca01 news" lines: text -> one of 15 genres

Four views:
  * ``read_brown`` -> ``BrownCorpus``: per-file sentences of (word, tag) pairs, and genres;
  * ``load_brown_genres`` -> ``TextDataset``: documents labelled by genre (15 classes);
  * ``load_brown_tagging`` (rnnlab.data.tagging): sentences for part-of-speech tagging;
  * ``load_brown_lm`` -> ``LMCorpus``: the word stream split as Bengio et al. (2003):
    the first 800,000 words train, the next 200,000 valid, the rest test.

Tags are the original Brown tags, lower-case. ``simplify_tags=True`` applies ``simplify_tag``:
drop the ``fw-`` prefix (foreign word), the ``-hl`` (headline), ``-tl`` (title), ``-nc``
(cited word) suffixes and two truncated ones (``-t``, ``-n``), and the ``*`` negation mark
(``didn't/dod*`` -> ``dod``); ``not/*`` stays ``*``. Contractions keep their compound tag
(``it's/pps+bez``). That turns the 472 tags of the corpus into 174.
"""

from __future__ import annotations

import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.data import locations
from rnnlab.data.download import cache_dir
from rnnlab.data.errors import DataError, DataNotFoundError
from rnnlab.data.files import decode_bytes
from rnnlab.data.lm import EOS_TOKEN, LMCorpus, lm_corpus
from rnnlab.data.splits import TextDataset, TextSplit, check_fractions, stratified_split

BROWN_GENRES = (
    "adventure", "belles_lettres", "editorial", "fiction", "government", "hobbies", "humor",
    "learned", "lore", "mystery", "news", "religion", "reviews", "romance", "science_fiction",
)  # fmt: skip
_FILEID = re.compile(r"(?:^|/)brown/(c[a-r]\d\d)$")
_SUFFIX = re.compile(r"-(?:hl|tl|nc|t|n)$")

Sentence = tuple[tuple[str, str], ...]


def _how_to_get() -> str:
    return (
        "Get the tagged Brown corpus with `python -m nltk.downloader brown` (it lands in "
        "~/nltk_data/corpora/brown) or set RNNLAB_DATA_DIR to a folder holding "
        "brown/brown.tar.gz, then pass that path."
    )


def simplify_tag(tag: str) -> str:
    """Strip Brown's tag decorations: ``fw-nn-tl`` -> ``nn``, ``dod*`` -> ``dod``."""
    tag = tag.lower()
    if tag.startswith("fw-"):
        tag = tag[3:]
    while (stripped := _SUFFIX.sub("", tag)) != tag:
        tag = stripped
    return tag if tag == "*" else tag.replace("*", "") or "*"


@dataclass(frozen=True)
class BrownDocument:
    """One text: ``fileid`` (e.g. "ca01"), its genre, sentences of (word, tag) pairs."""

    fileid: str
    genre: str
    sentences: tuple[Sentence, ...]

    def words(self) -> list[str]:
        return [word for sentence in self.sentences for word, _ in sentence]


@dataclass(frozen=True)
class BrownCorpus:
    """The 500 documents in file order (ca01 ... cr09)."""

    documents: tuple[BrownDocument, ...]

    @property
    def genres(self) -> tuple[str, ...]:
        return tuple(sorted({doc.genre for doc in self.documents}))

    def tagged_sentences(self) -> list[Sentence]:
        return [sentence for doc in self.documents for sentence in doc.sentences]

    def words(self) -> list[str]:
        return [word for doc in self.documents for word in doc.words()]

    def tags(self) -> tuple[str, ...]:
        """Every distinct tag, sorted."""
        return tuple(sorted({tag for s in self.tagged_sentences() for _, tag in s}))


def parse_tagged(text: str, source: str, simplify_tags: bool = False) -> tuple[Sentence, ...]:
    """Sentences of one Brown file: each non-blank line is a sentence of ``word/tag`` tokens."""
    sentences = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        pairs = []
        for token in line.split():
            word, slash, tag = token.rpartition("/")
            if not slash or not word:
                raise DataError(
                    f"{source}, line {line_number}: token {token!r} is not word/tag; "
                    f"expected the tagged Brown corpus"
                )
            pairs.append((word, simplify_tag(tag) if simplify_tags else tag.lower()))
        if pairs:
            sentences.append(tuple(pairs))
    return tuple(sentences)


def _read_files(path: Path) -> dict[str, bytes]:
    """fileid (ca01 ... and cats.txt) -> raw bytes, from a folder or an archive."""
    if path.is_dir():
        folder = path / "brown" if (path / "brown").is_dir() else path
        return {
            f.name: f.read_bytes()
            for f in folder.iterdir()
            if _FILEID.search(f"brown/{f.name}") or f.name == "cats.txt"
        }
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and (_FILEID.search(member.name) or name == "cats.txt"):
                    handle = tar.extractfile(member)
                    assert handle is not None
                    files[name] = handle.read()
    except (tarfile.TarError, EOFError) as error:
        raise DataError(f"path={str(path)!r} is not a readable tar archive ({error})") from error
    return files


def find_brown(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``; else ``<data dir>/brown/brown.tar.gz`` (``$RNNLAB_DATA_DIR`` or a checkout's
    ``../shared/data``, see :mod:`rnnlab.data.locations`); else the cache or nltk_data."""
    if path is not None:
        if not Path(path).exists():
            raise DataNotFoundError(f"path={str(path)!r} does not exist. {_how_to_get()}")
        return Path(path)
    candidates = [cache_dir() / "brown", Path.home() / "nltk_data" / "corpora" / "brown"]
    data_dir = locations.data_dir()
    if data_dir is not None:
        candidates.insert(0, data_dir / "brown" / "brown.tar.gz")
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise DataNotFoundError(f"the Brown corpus was not found (path=None). {_how_to_get()}")


def read_brown(
    path: str | os.PathLike[str] | None = None, simplify_tags: bool = False
) -> BrownCorpus:
    """All 500 tagged documents with their genres (see ``find_brown`` for ``path=None``)."""
    location = find_brown(path)
    files = _read_files(location)
    if "cats.txt" not in files:
        raise DataError(f"path={str(location)!r} has no brown/cats.txt (file -> genre map)")
    genre_of = dict(
        line.split()[:2]
        for line in decode_bytes(files.pop("cats.txt"), "cats.txt").splitlines()
        if line.strip()
    )
    if not files:
        raise DataError(f"path={str(location)!r} holds no Brown text files (brown/ca01 ...)")
    documents = []
    for fileid in sorted(files):
        if fileid not in genre_of:
            raise DataError(f"brown/{fileid} has no genre in cats.txt; the corpus is incomplete")
        text = decode_bytes(files[fileid], f"{location}:brown/{fileid}")
        sentences = parse_tagged(text, f"brown/{fileid}", simplify_tags)
        documents.append(BrownDocument(fileid, genre_of[fileid], sentences))
    return BrownCorpus(tuple(documents))


def load_brown_genres(
    path: str | os.PathLike[str] | None = None,
    *,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> TextDataset:
    """Genre classification: each document's words joined by spaces, labelled by genre.

    Stratified seeded split of the 500 documents: ``test_fraction`` of each genre to test,
    then ``valid_fraction`` of each genre (of all documents) to valid (at least one of each
    where a genre has enough documents). Labels index the sorted genre names.
    """
    check_fractions(valid_fraction=valid_fraction, test_fraction=test_fraction)
    corpus = read_brown(path)
    label_names = corpus.genres
    texts = tuple(" ".join(doc.words()) for doc in corpus.documents)
    labels = np.array([label_names.index(doc.genre) for doc in corpus.documents])
    everything = TextSplit(texts, labels, tuple(f"brown/{d.fileid}" for d in corpus.documents))
    rest, test = stratified_split(labels, test_fraction, seed)
    rest_split = everything.subset(rest)
    held = valid_fraction / (1.0 - test_fraction) if valid_fraction else 0.0
    train, valid = stratified_split(rest_split.labels, held, seed + 1)
    return TextDataset(
        "brown-genre",
        rest_split.subset(train),
        rest_split.subset(valid),
        everything.subset(test),
        label_names,
    )


@dataclass(frozen=True)
class BrownLMConfig:
    """The word-stream split of Bengio et al. (2003), section 4.1."""

    train_words: int = 800_000  # Bengio et al.: first 800,000 words
    valid_words: int = 200_000  # next 200,000; the rest (161,192 here) is test
    max_rare_count: int = 3  # words seen <= 3 times in train become <unk> (Bengio: freq <= 3)
    lowercase: bool = False  # Bengio et al. distinguish upper and lower case
    sentence_eos: bool = True  # append <eos> after each sentence


def load_brown_lm(
    path: str | os.PathLike[str] | None = None, config: BrownLMConfig = BrownLMConfig()
) -> LMCorpus:
    """The Brown word stream as an LM corpus, split by word count.

    Only words count toward ``train_words``/``valid_words``; an ``<eos>`` goes to the split of
    the word before it::

        words:  w1 ... w800000 <eos> w800001 ... w1000000 ... w1161192 <eos>
                |------- train ------|------- valid ------|----- test -----|
    """
    corpus = read_brown(path)
    stream: list[str] = []
    for sentence in corpus.tagged_sentences():
        stream.extend(word.lower() if config.lowercase else word for word, _ in sentence)
        if config.sentence_eos:
            stream.append(EOS_TOKEN)
    tokens = np.array(stream, dtype=object)
    word_number = np.cumsum(tokens != EOS_TOKEN)
    train_end = int(np.searchsorted(word_number, config.train_words, side="right"))
    valid_end = int(
        np.searchsorted(word_number, config.train_words + config.valid_words, side="right")
    )
    if valid_end >= len(stream):
        raise DataError(
            f"train_words + valid_words = {config.train_words + config.valid_words:,} leaves no "
            f"test words; the corpus has {int(word_number[-1]):,} words"
        )
    return lm_corpus(
        stream[:train_end],
        stream[train_end:valid_end],
        stream[valid_end:],
        min_count=config.max_rare_count + 1,
    )
