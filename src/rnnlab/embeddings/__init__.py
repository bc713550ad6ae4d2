"""Pretrained word vectors: Word2Vec on a dataset's training texts (gensim), saved and read
as :class:`WordVectors`, and aligned into a classifier's embedding by its vocabulary.

    >>> vectors, _ = word2vec_on_dataset("imdb-short", Word2VecConfig(dim=64))
    >>> vectors.save("w2v")                              # w2v/vectors.npy, w2v/words.json
    >>> coverage = align_vectors(load_word_vectors("w2v"), vocab, model.embedding.weight)

Sits beside ``models``: it depends on ``data`` and torch only (gensim when training).
"""

from rnnlab.embeddings.alignment import (
    Coverage,
    align_vectors,
    coverage,
    matching_scale,
    token_counts,
)
from rnnlab.embeddings.vectors import (
    VectorsFileError,
    WordVectors,
    load_word_vectors,
)
from rnnlab.embeddings.word2vec import Word2VecConfig, train_word2vec, word2vec_on_dataset

__all__ = [
    "Coverage",
    "VectorsFileError",
    "Word2VecConfig",
    "WordVectors",
    "align_vectors",
    "coverage",
    "load_word_vectors",
    "matching_scale",
    "token_counts",
    "train_word2vec",
    "word2vec_on_dataset",
]
