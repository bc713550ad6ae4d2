"""Encoded classification data: what the training loop consumes.

A study encodes a dataset once (:func:`encode_dataset`) and trains many models on the
result, so the loop takes arrays, not texts::

    data.train.ids      (examples, time) int64, padded with PAD_ID on ``data.padding``'s side
    data.train.lengths  (examples,) int64, real tokens per row
    data.train.labels   (examples,) int64 in [0, num_classes)
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

from rnnlab.data import (
    EncodingConfig,
    TextDataset,
    TokenizerConfig,
    Vocab,
    VocabConfig,
    encode_texts,
    tokenize_all,
)

SPLITS = ("train", "valid", "test")
SEED_VOCAB = VocabConfig(max_size=5000)  # seed 002: num_words=5000
SEED_ENCODING = EncodingConfig()  # seed 002: maxlen 100, pre-padding, pre-truncation


@dataclass(frozen=True, eq=False)
class EncodedSplit:
    """One split as arrays: ids ``(examples, time)``, lengths and labels ``(examples,)``."""

    ids: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.ids.ndim != 2:
            raise ValueError(f"ids must be (examples, time), got shape {self.ids.shape}")
        if not len(self.ids) == len(self.lengths) == len(self.labels):
            raise ValueError(f"ids, lengths and labels must have one row per example, got "
                             f"{len(self.ids)}, {len(self.lengths)}, {len(self.labels)}")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class ClassificationData:
    """Encoded train/valid/test splits with the vocabulary and encoding that made them."""

    train: EncodedSplit
    valid: EncodedSplit
    test: EncodedSplit
    vocab: Vocab
    label_names: tuple[str, ...]
    encoding: EncodingConfig = SEED_ENCODING
    name: str = "data"

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def padding(self) -> str:
        return self.encoding.padding

    def split(self, name: str) -> EncodedSplit:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {name!r}")
        return getattr(self, name)

    def fingerprint(self) -> str:
        """A short hash of every array and the vocabulary: a resumed run checks it matches."""
        digest = hashlib.sha256()
        for split_name in SPLITS:
            split = self.split(split_name)
            for array in (split.ids, split.lengths, split.labels):
                digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
        digest.update("\n".join(self.vocab.tokens).encode())
        digest.update("\n".join(self.label_names).encode())
        return digest.hexdigest()[:16]

    def describe(self) -> dict[str, object]:
        """A JSON-ready description for the saved run config."""
        return {
            "name": self.name,
            "label_names": list(self.label_names),
            "vocab_size": len(self.vocab),
            "encoding": asdict(self.encoding),
            "examples": {name: len(self.split(name)) for name in SPLITS},
            "fingerprint": self.fingerprint(),
        }


def encode_split(
    texts, labels, vocab: Vocab, encoding: EncodingConfig, tokenizer: TokenizerConfig | None
) -> EncodedSplit:
    encoded = encode_texts(texts, vocab, encoding, tokenizer)
    labels = np.asarray(labels, dtype=np.int64)[encoded.kept]
    return EncodedSplit(encoded.ids, encoded.lengths, labels)


def encode_dataset(
    dataset: TextDataset,
    *,
    vocab: Vocab | None = None,
    vocab_config: VocabConfig = SEED_VOCAB,
    encoding: EncodingConfig = SEED_ENCODING,
    tokenizer: TokenizerConfig | None = None,
) -> ClassificationData:
    """Fit a vocabulary on the training split (unless ``vocab`` is given) and encode all three.

    Defaults are seed 002's: 5000 ids, at most 100 tokens, pre-padding and pre-truncation.
    """
    if vocab is None:
        vocab = Vocab.fit(tokenize_all(dataset.train.texts, tokenizer or TokenizerConfig()),
                          vocab_config)
    splits = {
        name: encode_split(getattr(dataset, name).texts, getattr(dataset, name).labels, vocab,
                           encoding, tokenizer)
        for name in SPLITS
    }
    return ClassificationData(**splits, vocab=vocab, label_names=tuple(dataset.label_names),
                              encoding=encoding, name=dataset.name)
