"""Word2Vec (Mikolov et al. 2013) on a dataset's training texts, with gensim.

    texts (train split only) ─ tokenize (as the classifier does) ─ gensim Word2Vec ─ WordVectors

The texts are tokenized exactly as :func:`rnnlab.data.encode_dataset` tokenizes them for a
classifier, so the words line up with its vocabulary. Only the *training* split is read
(never valid or test). gensim runs on one worker thread with a fixed seed: its threads
otherwise interleave updates in the order the OS schedules them, and two runs differ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rnnlab._config import check_positive_ints
from rnnlab.embeddings.vectors import WordVectors

__all__ = ["ALGORITHMS", "Word2VecConfig", "train_word2vec", "word2vec_on_dataset"]

ALGORITHMS = ("skipgram", "cbow")


@dataclass(frozen=True)
class Word2VecConfig:
    """gensim's Word2Vec settings; defaults are Mikolov et al.'s skip-gram with negative
    sampling, at the classifier's embedding size so the vectors plug straight in."""

    dim: int = 64  # = ClassifierConfig.embedding_size (seed 002's Embedding(5000, 64))
    algorithm: str = "skipgram"  # "skipgram" (sg=1) or "cbow" (sg=0)
    window: int = 5  # context words on each side (gensim's default)
    min_count: int = 2  # words seen fewer times get no vector (keep in the classifier's OOV)
    negative: int = 5  # negative samples per positive (Mikolov et al. 2013b)
    sample: float = 1e-3  # down-sampling of frequent words (gensim's default)
    epochs: int = 5  # passes over the texts (gensim's default)
    seed: int = 0  # initial vectors and sampling; with one worker the vectors are reproducible

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {list(ALGORITHMS)}, got {self.algorithm!r}")
        check_positive_ints(self, ("dim", "window", "min_count", "epochs", "negative"))
        if not 0.0 <= self.sample < 1.0:
            raise ValueError(f"sample must be in [0, 1), got {self.sample!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) \
                or not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be an int in [0, 2**32), got {self.seed!r}")


def _gensim():
    try:
        from gensim.models import Word2Vec
    except ImportError as error:
        raise ImportError("Word2Vec needs gensim: pip install 'rnnlab[embed]'") from error
    return Word2Vec


def train_word2vec(token_lists: Sequence[Sequence[str]],
                   config: Word2VecConfig = Word2VecConfig()) -> WordVectors:
    """Train on tokenized texts; words most frequent first (ties by the word), as a
    :class:`~rnnlab.data.Vocab` ranks them."""
    word2vec = _gensim()
    texts = [list(tokens) for tokens in token_lists if tokens]
    counts = Counter(token for tokens in texts for token in tokens)
    if not any(n >= config.min_count for n in counts.values()):
        raise ValueError(f"no word occurs min_count={config.min_count} times in "
                         f"{len(texts)} texts; lower min_count or give more text")
    model = word2vec(
        sentences=texts, vector_size=config.dim, window=config.window,
        min_count=config.min_count, sg=1 if config.algorithm == "skipgram" else 0,
        negative=config.negative, sample=config.sample, epochs=config.epochs,
        seed=config.seed, workers=1)  # one worker: the only deterministic setting
    words = sorted(model.wv.index_to_key, key=lambda word: (-counts[word], word))
    vectors = np.stack([model.wv[word] for word in words]).astype(np.float32)
    return WordVectors(tuple(words), vectors, tuple(counts[word] for word in words),
                       {"config": asdict(config)})


def word2vec_on_dataset(data: str, config: Word2VecConfig = Word2VecConfig(),
                        data_options: dict[str, Any] | None = None,
                        ) -> tuple[WordVectors, list[list[str]]]:
    """Vectors trained on the *training* texts of the dataset ``data`` (a name or a path, as
    ``rnnlab train --data``); also returns those tokenized texts (for a coverage report)."""
    from rnnlab.data import load_dataset
    from rnnlab.data.prepare import DEFAULT_TOKENIZER
    from rnnlab.data.text import tokenize_all

    dataset = load_dataset(data, **(data_options or {}))
    token_lists = tokenize_all(dataset.train.texts, DEFAULT_TOKENIZER)
    vectors = train_word2vec(token_lists, config)
    meta = {**vectors.meta, "data": {"name": data, "split": "train",
                                     "texts": len(token_lists), "tokenizer": asdict(
                                         DEFAULT_TOKENIZER)}}
    return WordVectors(vectors.words, vectors.vectors, vectors.counts, meta), token_lists
