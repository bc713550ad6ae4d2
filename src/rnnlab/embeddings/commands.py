"""What ``rnnlab embed word2vec`` does, behind its argument parsing."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rnnlab.embeddings.alignment import coverage
from rnnlab.embeddings.word2vec import Word2VecConfig, word2vec_on_dataset

__all__ = ["embed_word2vec"]


def embed_word2vec(data: str, out: str | Path, config: Word2VecConfig, *,
                   vocab_size: int = 20_000) -> str:
    """Train, save to ``out`` (atomically) and return a summary with the coverage of the
    ``vocab_size`` vocabulary a classifier would fit on the same training texts."""
    from rnnlab.data.vocab import Vocab, VocabConfig

    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 3:
        raise ValueError(f"--vocab-size must be an int >= 3, got {vocab_size!r}")
    if Path(out).exists() and (not Path(out).is_dir() or any(Path(out).iterdir())):
        raise ValueError(f"--out {str(out)!r} already exists and is not an empty "
                              "directory; choose another --out (nothing is overwritten)")
    started = time.perf_counter()
    vectors, token_lists = word2vec_on_dataset(data, config)
    vocab = Vocab.fit(token_lists, VocabConfig(max_size=vocab_size))
    ids = vocab.encode(token for tokens in token_lists for token in tokens)
    counts = np.bincount(np.asarray(ids, dtype=np.int64), minlength=len(vocab))
    known = set(vectors.words)
    covered = coverage([token in known for token in vocab.tokens], vocab, counts)
    saved = vectors.save(out)
    return (f"word2vec ({config.algorithm}, dim {config.dim}) on the {len(token_lists):,} "
            f"training texts of {data}: {len(vectors.words):,} words, "
            f"{time.perf_counter() - started:.0f} s → {saved}\n"
            f"coverage of a {len(vocab):,}-id classifier vocabulary: {covered.describe()}")
