"""Tagged sentences as tensors: word ids, character ids and tag ids, batch by batch.

Three vocabularies, all fitted on the training split only (``TaggerVocabs.fit``)::

    words  Vocab of lower-cased word forms, <pad> = 0, <unk> = 1, every training form kept
           (case is left to the character features)
    chars  Vocab of characters of the training words (as typed), <pad> = 0, <unk> = 1
    tags   the data set's tag names; a tag id is its index

A word is *known* when its lower-cased form is in the word vocabulary (it was seen in
training) and *unknown* otherwise; the report splits accuracy that way. To give ``<unk>`` an
embedding worth having, training replaces each occurrence of a training singleton by
``<unk>`` with probability ``unk_replace`` (Kiperwasser & Goldberg 2016's word dropout, with
the singletons standing in for unseen words), drawn from ``(data_seed, epoch)``.

A batch of sentences with lengths [3, 1] (post padding, real tokens first)::

    word_ids (batch, time)          [[the, dog, ran], [hi, <pad>, <pad>]]
    char_ids (batch, time, chars)   [[t h e _], [d o g _], [r a n _]], [[h i _ _], [_], [_]]
    tag_ids  (batch, time)          0 at padding
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rnnlab.data.brown import Sentence
from rnnlab.data.errors import DataError
from rnnlab.data.vocab import Vocab, VocabConfig

MAX_WORD_CHARS = 25  # longer words keep their first 10 and last 15 characters (the affixes)


@dataclass(frozen=True, eq=False)
class TaggerVocabs:
    words: Vocab
    chars: Vocab
    tags: tuple[str, ...]

    @classmethod
    def fit(cls, train: Sequence[Sentence], tags: Sequence[str]) -> TaggerVocabs:
        words = Vocab.fit([[w.lower() for w, _ in s] for s in train], VocabConfig())
        chars = Vocab.fit([[c for w, _ in s for c in w] for s in train], VocabConfig())
        return cls(words, chars, tuple(tags))

    def to_dict(self) -> dict[str, Any]:
        return {"words": self.words.to_dict(), "chars": self.chars.to_dict(),
                "tags": list(self.tags)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaggerVocabs:
        return cls(Vocab.from_dict(data["words"]), Vocab.from_dict(data["chars"]),
                   tuple(data["tags"]))

    def char_ids(self, word: str) -> list[int]:
        if len(word) > MAX_WORD_CHARS:
            word = word[:10] + word[-(MAX_WORD_CHARS - 10):]
        return self.chars.encode(word)


@dataclass(frozen=True, eq=False)
class EncodedTagging:
    """One split: per sentence, word ids, form ids (rows of ``form_chars``) and tag ids."""

    words: tuple[np.ndarray, ...]
    forms: tuple[np.ndarray, ...]
    tags: tuple[np.ndarray, ...] | None  # None for untagged text (prediction)
    form_chars: np.ndarray  # (forms, MAX_WORD_CHARS) char ids, 0-padded
    lengths: np.ndarray  # (sentences,)

    def __len__(self) -> int:
        return len(self.words)

    def batch(self, index: np.ndarray, *, word_dropout: WordDropout | None = None
              ) -> dict[str, torch.Tensor]:
        """Tensors of the sentences ``index`` (see the module docstring for the shapes)."""
        lengths = self.lengths[index]
        time = int(lengths.max())
        word_ids = np.zeros((len(index), time), dtype=np.int64)
        form_ids = np.zeros((len(index), time), dtype=np.int64)
        tag_ids = np.zeros((len(index), time), dtype=np.int64)
        for row, i in enumerate(index):
            n = lengths[row]
            word_ids[row, :n] = self.words[i]
            form_ids[row, :n] = self.forms[i]
            if self.tags is not None:
                tag_ids[row, :n] = self.tags[i]
        real = np.arange(time)[None, :] < lengths[:, None]
        if word_dropout is not None:
            word_ids[word_dropout.draw(word_ids) & real] = word_dropout.unk_id
        chars = self.form_chars[form_ids] * real[:, :, None]  # (batch, time, chars)
        width = max(1, int((chars != 0).sum(axis=2).max()))
        return {"word_ids": torch.from_numpy(word_ids),
                "char_ids": torch.from_numpy(np.ascontiguousarray(chars[:, :, :width])),
                "tag_ids": torch.from_numpy(tag_ids),
                "lengths": torch.from_numpy(lengths.astype(np.int64))}


@dataclass(frozen=True, eq=False)
class WordDropout:
    """Replace each candidate word id by ``unk_id`` with probability ``rate``."""

    candidates: np.ndarray  # (vocab,) bool, see singleton_ids
    rate: float
    rng: np.random.Generator
    unk_id: int = 1

    def draw(self, word_ids: np.ndarray) -> np.ndarray:
        """``word_ids``-shaped bool: True where the id is replaced in this batch."""
        return self.candidates[word_ids] & (self.rng.random(word_ids.shape) < self.rate)


def encode_tagging(sentences: Sequence[Sentence] | Sequence[Sequence[str]], vocabs: TaggerVocabs,
                   *, tagged: bool = True, source: str = "data") -> EncodedTagging:
    """Encode tagged sentences (``tagged``) or plain token lists; a tag outside the vocabs'
    tag set is a DataError naming the sentence and the tag."""
    tag_index = {tag: i for i, tag in enumerate(vocabs.tags)}
    form_index: dict[str, int] = {"": 0}
    words, forms, tags = [], [], []
    for number, sentence in enumerate(sentences, start=1):
        tokens = [pair[0] for pair in sentence] if tagged else list(sentence)
        if not tokens:
            raise DataError(f"{source}, sentence {number}: empty; every sentence needs a token")
        words.append(np.array(vocabs.words.encode(t.lower() for t in tokens), dtype=np.int64))
        forms.append(np.array([form_index.setdefault(t, len(form_index)) for t in tokens],
                              dtype=np.int64))
        if tagged:
            unknown = [tag for _, tag in sentence if tag not in tag_index]
            if unknown:
                raise DataError(
                    f"{source}, sentence {number}: tag {unknown[0]!r} is not in the model's tag "
                    f"set ({len(vocabs.tags)} tags: {', '.join(vocabs.tags[:12])}"
                    f"{', ...' if len(vocabs.tags) > 12 else ''}); evaluate with data in the "
                    f"tag set the run was trained on (--tagset)")
            tags.append(np.array([tag_index[tag] for _, tag in sentence], dtype=np.int64))
    form_chars = np.zeros((len(form_index), MAX_WORD_CHARS), dtype=np.int64)
    for form, row in form_index.items():
        ids = vocabs.char_ids(form)
        form_chars[row, :len(ids)] = ids
    return EncodedTagging(tuple(words), tuple(forms), tuple(tags) if tagged else None,
                          form_chars, np.array([len(w) for w in words], dtype=np.int64))


def singleton_ids(train: Sequence[Sentence], vocabs: TaggerVocabs) -> np.ndarray:
    """``(vocab,)`` bool: word ids seen exactly once in training (the word-dropout candidates)."""
    counts = Counter(w.lower() for s in train for w, _ in s)
    marks = np.zeros(len(vocabs.words), dtype=bool)
    marks[[vocabs.words.token_to_id(w) for w, n in counts.items() if n == 1]] = True
    return marks


def fingerprint(sentences: Sequence[Sentence]) -> str:
    """SHA-256 of the sentences (words and tags), so a resumed run trains on the same data."""
    digest = hashlib.sha256()
    for sentence in sentences:
        digest.update("\x1f".join(f"{w}\x1e{t}" for w, t in sentence).encode())
        digest.update(b"\n")
    return digest.hexdigest()
