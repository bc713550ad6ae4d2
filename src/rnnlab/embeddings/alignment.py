"""Pretrained word vectors into a classifier's embedding, row by row of its vocabulary.

A classifier's vocabulary and a vectors file order their words differently, and each has
words the other lacks. Alignment copies each vocabulary word's vector into that word's row;
rows of words without a vector, and the special rows, keep their initialisation::

    vocab id:   0 <pad>   1 <unk>   2 the       3 film      4 zork
    vectors:    —         —         the: v_the  film: v_fm  (none)
    weight:     init      init      v_the       v_fm        init

Coverage says how much of the vocabulary (ids) and of the training text (tokens) got a
pretrained vector. A classifier takes the vectors scaled to its initialisation's spread
(:func:`matching_scale`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnlab.data.vocab import Vocab
from rnnlab.embeddings.vectors import WordVectors

__all__ = ["Coverage", "align_vectors", "coverage", "matching_scale", "token_counts"]


@dataclass(frozen=True)
class Coverage:
    """How many vocabulary words (specials excluded) and training tokens have a vector."""

    words_covered: int
    words: int
    tokens_covered: int
    tokens: int

    @property
    def word_share(self) -> float:
        return self.words_covered / self.words if self.words else 0.0

    @property
    def token_share(self) -> float:
        return self.tokens_covered / self.tokens if self.tokens else 0.0

    def describe(self) -> str:
        return (f"{self.words_covered:,}/{self.words:,} vocabulary words "
                f"({100 * self.word_share:.1f} %), {self.tokens_covered:,}/{self.tokens:,} "
                f"training tokens ({100 * self.token_share:.1f} %)")

    def to_dict(self) -> dict[str, float | int]:
        return {"words_covered": self.words_covered, "words": self.words,
                "tokens_covered": self.tokens_covered, "tokens": self.tokens,
                "word_share": self.word_share, "token_share": self.token_share}


def _special_ids(vocab: Vocab) -> set[int]:
    return {vocab.unk_id} | ({vocab.pad_id} if vocab.pad_id is not None else set())


def token_counts(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """``(vocab_size,)`` occurrences of each id in encoded ``ids`` (any shape)."""
    return np.bincount(np.asarray(ids, dtype=np.int64).ravel(), minlength=vocab_size)


def coverage(known: Sequence[bool], vocab: Vocab, counts: np.ndarray | None = None) -> Coverage:
    """Coverage of ``vocab`` where ``known[i]`` says id i has a vector; ``counts`` are the
    training-token counts per id (the OOV id's count counts as not covered)."""
    specials = _special_ids(vocab)
    words = [i for i in range(len(vocab)) if i not in specials]
    counts = np.zeros(len(vocab), np.int64) if counts is None else np.asarray(counts)
    real = [i for i in range(len(vocab)) if i != vocab.pad_id]
    return Coverage(words_covered=sum(bool(known[i]) for i in words), words=len(words),
                    tokens_covered=int(sum(counts[i] for i in words if known[i])),
                    tokens=int(sum(counts[i] for i in real)))


def matching_scale(vectors: WordVectors, weight: torch.Tensor) -> float:
    """The factor that gives ``vectors`` the standard deviation of ``weight`` (an
    initialised embedding): one number for all, so directions and relative norms stay.

    Why: Adam moves every weight by about ``lr`` per step whatever its size, so word2vec
    vectors 5x larger than the initialisation a classifier was tuned for take 5x more steps
    to reshape (on imdb-short: 76 % test accuracy unscaled, 85 % scaled; RESULTS.md).
    """
    spread = float(np.std(vectors.vectors))
    return float(weight.detach().float().std()) / spread if spread > 0 else 1.0


def align_vectors(vectors: WordVectors, vocab: Vocab, weight: torch.Tensor,
                  counts: np.ndarray | None = None, scale: float = 1.0) -> Coverage:
    """Copy into ``weight (len(vocab), dim)`` the vector (times ``scale``) of every
    vocabulary word that has one (in place); every other row is left as it is.

    Raises:
        ValueError: naming the vectors' file, if their dimension is not ``weight``'s.
    """
    if weight.dim() != 2 or weight.shape[0] < len(vocab):
        raise ValueError(f"weight must be (vocab, dim) with at least {len(vocab)} rows, "
                         f"got shape {tuple(weight.shape)}")
    if vectors.dim != weight.shape[1]:
        where = f" in {vectors.source!r}" if vectors.source else ""
        raise ValueError(
            f"the word vectors{where} have dimension {vectors.dim}, but the embedding has "
            f"{weight.shape[1]}; set the classifier's embedding_size = {vectors.dim}, or "
            f"train vectors of dimension {weight.shape[1]} (rnnlab embed word2vec "
            f"--dim {weight.shape[1]})")
    index = vectors.index()
    specials = _special_ids(vocab)
    ids, rows = [], []
    for token_id, token in enumerate(vocab.tokens):
        row = index.get(token)
        if row is not None and token_id not in specials:
            ids.append(token_id)
            rows.append(row)
    known = [False] * len(vocab)
    for token_id in ids:
        known[token_id] = True
    if ids:
        with torch.no_grad():
            source = torch.from_numpy(vectors.vectors[np.asarray(rows)]) * scale
            weight[torch.as_tensor(ids)] = source.to(dtype=weight.dtype, device=weight.device)
    return coverage(known, vocab, counts)
