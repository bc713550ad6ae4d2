"""From a ``TextDataset`` to model-ready arrays: fit the vocabulary on train, encode every split.

    >>> data = load_dataset("imdb-short")
    >>> prepared = prepare_classification(data)        # seed 002: 5000 ids, maxlen 100, pre
    >>> prepared.train.ids.shape, prepared.train.lengths.shape, prepared.train.labels.shape
    ((2069, 100), (2069,), (2069,))

The vocabulary sees the training split only, so valid and test words it has not seen become
OOV, as they would for new text at prediction time. With ``overlong="drop"`` the rule is
applied to every split (as Keras's ``load_data(maxlen=...)`` does) and ``source_ids`` tells
which examples were kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.data.encoding import EncodingConfig, encode_texts
from rnnlab.data.errors import DataError
from rnnlab.data.splits import TextDataset, TextSplit
from rnnlab.data.text import TokenizerConfig, tokenize_all
from rnnlab.data.vocab import Vocab, VocabConfig

SEED_002_VOCAB = VocabConfig(max_size=5000)  # seed 002: imdb.load_data(num_words=5000)
SEED_002_ENCODING = EncodingConfig(maxlen=100, padding="pre")  # seed 002: maxlen=100, pre


@dataclass(frozen=True, eq=False)
class EncodedSplit:
    """ids: (examples, time) int64; lengths, labels: (examples,) int64; source_ids: (examples,)."""

    ids: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    source_ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class PreparedData:
    """Encoded train/valid/test, the vocabulary and the configs that produced them."""

    train: EncodedSplit
    valid: EncodedSplit
    test: EncodedSplit
    vocab: Vocab
    label_names: tuple[str, ...]
    encoding: EncodingConfig
    tokenizer: TokenizerConfig


def encode_split(
    split: TextSplit, vocab: Vocab, encoding: EncodingConfig, tokenizer: TokenizerConfig
) -> EncodedSplit:
    """Encode one split with a fitted vocabulary; see ``encode_texts``."""
    encoded = encode_texts(split.texts, vocab, encoding, tokenizer)
    return EncodedSplit(
        encoded.ids,
        encoded.lengths,
        split.labels[encoded.kept],
        tuple(split.ids[i] for i in encoded.kept),
    )


def prepare_classification(
    dataset: TextDataset,
    vocab_config: VocabConfig = SEED_002_VOCAB,
    encoding: EncodingConfig = SEED_002_ENCODING,
    tokenizer: TokenizerConfig | None = None,
    vocab: Vocab | None = None,
) -> PreparedData:
    """Fit a vocabulary on ``dataset.train`` (or use ``vocab``) and encode all three splits.

    Defaults reproduce seed 002: 5000 ids (PAD and OOV included), maxlen 100, pre-padding,
    pre-truncation.
    """
    tokenizer = tokenizer or TokenizerConfig()
    if vocab is None:
        if len(dataset.train) == 0:
            raise DataError(
                f"dataset {dataset.name!r} has an empty train split; cannot fit a vocab"
            )
        vocab = Vocab.fit(tokenize_all(dataset.train.texts, tokenizer), vocab_config)
    splits = {
        name: encode_split(getattr(dataset, name), vocab, encoding, tokenizer)
        for name in ("train", "valid", "test")
    }
    return PreparedData(
        splits["train"],
        splits["valid"],
        splits["test"],
        vocab,
        dataset.label_names,
        encoding,
        tokenizer,
    )
