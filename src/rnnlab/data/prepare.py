"""From a ``TextDataset`` to model-ready arrays: fit the vocabulary on train, encode every split.

    >>> data = encode_dataset(load_dataset("imdb-short"))   # seed 002: 5000 ids, maxlen 100, pre
    >>> data.train.ids.shape, data.train.lengths.shape, data.train.labels.shape
    ((2069, 100), (2069,), (2069,))

A study encodes a dataset once and trains many models on the result, so training takes
these arrays, not texts. The vocabulary sees the training split only, so valid and test words
it has not seen become OOV, as they would for new text at prediction time. With
``overlong="drop"`` the rule is applied to every split (as Keras's ``load_data(maxlen=...)``
does) and ``source_ids`` tells which examples were kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

from rnnlab.data.encoding import EncodingConfig, encode_texts
from rnnlab.data.errors import DataError
from rnnlab.data.splits import TextDataset, TextSplit
from rnnlab.data.text import TokenizerConfig, tokenize_all
from rnnlab.data.vocab import Vocab, VocabConfig

SPLITS = ("train", "valid", "test")
SEED_002_VOCAB = VocabConfig(max_size=5000)  # seed 002: imdb.load_data(num_words=5000)
SEED_002_ENCODING = EncodingConfig(maxlen=100, padding="pre")  # seed 002: maxlen=100, pre
DEFAULT_TOKENIZER = TokenizerConfig()  # lower-case, strip <br />, keep apostrophes


@dataclass(frozen=True, eq=False)
class EncodedSplit:
    """One split as arrays: ids ``(examples, time)`` int64, padded with PAD_ID; lengths and
    labels ``(examples,)`` int64; ``source_ids`` names each example's source (may be empty)."""

    ids: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    source_ids: tuple[str, ...] = ()

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
    """Encoded train/valid/test, the vocabulary and the configs that produced them."""

    train: EncodedSplit
    valid: EncodedSplit
    test: EncodedSplit
    vocab: Vocab
    label_names: tuple[str, ...]
    encoding: EncodingConfig = SEED_002_ENCODING
    tokenizer: TokenizerConfig = DEFAULT_TOKENIZER
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
        """A JSON-ready description for a saved run's config."""
        return {
            "name": self.name,
            "label_names": list(self.label_names),
            "vocab_size": len(self.vocab),
            "encoding": asdict(self.encoding),
            "examples": {name: len(self.split(name)) for name in SPLITS},
            "fingerprint": self.fingerprint(),
        }


def encode_split(
    split: TextSplit, vocab: Vocab, encoding: EncodingConfig,
    tokenizer: TokenizerConfig | None = None,
) -> EncodedSplit:
    """Encode one split with a fitted vocabulary; see ``encode_texts``."""
    encoded = encode_texts(split.texts, vocab, encoding, tokenizer or TokenizerConfig())
    return EncodedSplit(
        encoded.ids,
        encoded.lengths,
        np.asarray(split.labels, dtype=np.int64)[encoded.kept],
        tuple(split.ids[i] for i in encoded.kept) if split.ids else (),
    )


def encode_dataset(
    dataset: TextDataset,
    *,
    vocab: Vocab | None = None,
    vocab_config: VocabConfig = SEED_002_VOCAB,
    encoding: EncodingConfig = SEED_002_ENCODING,
    tokenizer: TokenizerConfig | None = None,
) -> ClassificationData:
    """Fit a vocabulary on ``dataset.train`` (unless ``vocab`` is given), encode all three.

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
    splits = {name: encode_split(getattr(dataset, name), vocab, encoding, tokenizer)
              for name in SPLITS}
    return ClassificationData(**splits, vocab=vocab, label_names=tuple(dataset.label_names),
                              encoding=encoding, tokenizer=tokenizer, name=dataset.name)
