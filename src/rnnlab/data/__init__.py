"""rnnlab.data: tokenizing, vocabularies, encoding, batching and datasets.

Depends on numpy and the standard library (torch only in ``batch_tensors``).

    >>> from rnnlab.data import load_dataset, encode_dataset, bucket_batches
    >>> data = load_dataset("imdb-short")           # texts and labels: train / valid / test
    >>> prepared = encode_dataset(data)     # vocab fitted on train; ids (examples, 100)
    >>> batches = bucket_batches(prepared.train.lengths, seed=0, epoch=0)  # index arrays

Step by step: ``tokenize_all`` -> ``Vocab.fit`` -> ``encode_texts`` (``pad_sequences``).
"""

from rnnlab.data.batching import BucketBatchSampler, BucketConfig, batch_tensors, bucket_batches
from rnnlab.data.brown import (
    BROWN_GENRES,
    BrownCorpus,
    BrownDocument,
    BrownLMConfig,
    load_brown_genres,
    load_brown_lm,
    read_brown,
    simplify_tag,
)
from rnnlab.data.datasets import dataset_names, load_dataset, register_dataset
from rnnlab.data.download import cache_dir, download, sha256_of
from rnnlab.data.encoding import Encoded, EncodingConfig, encode_texts, pad_sequences
from rnnlab.data.errors import DataError, DataNotFoundError, DataWarning
from rnnlab.data.imdb import IMDB_CITATION, IMDB_LABELS, IMDB_SHA256, IMDB_URL, load_imdb
from rnnlab.data.imdb_short import load_imdb_short
from rnnlab.data.lm import EOS_TOKEN, LMCorpus, read_ptb
from rnnlab.data.prepare import (
    ClassificationData,
    EncodedSplit,
    encode_dataset,
    encode_split,
)
from rnnlab.data.splits import TextDataset, TextSplit, stratified_split
from rnnlab.data.tagging import TaggingDataset, load_brown_tagging
from rnnlab.data.text import TokenizerConfig, tokenize, tokenize_all
from rnnlab.data.user_data import load_user_data
from rnnlab.data.vocab import OOV_ID, PAD_ID, PAD_TOKEN, UNK_TOKEN, Vocab, VocabConfig

__all__ = [
    "BROWN_GENRES",
    "EOS_TOKEN",
    "IMDB_CITATION",
    "IMDB_LABELS",
    "IMDB_SHA256",
    "IMDB_URL",
    "OOV_ID",
    "PAD_ID",
    "PAD_TOKEN",
    "UNK_TOKEN",
    "BrownCorpus",
    "BrownDocument",
    "BrownLMConfig",
    "BucketBatchSampler",
    "BucketConfig",
    "ClassificationData",
    "DataError",
    "DataNotFoundError",
    "DataWarning",
    "Encoded",
    "EncodedSplit",
    "EncodingConfig",
    "LMCorpus",
    "TaggingDataset",
    "TextDataset",
    "TextSplit",
    "TokenizerConfig",
    "Vocab",
    "VocabConfig",
    "batch_tensors",
    "bucket_batches",
    "cache_dir",
    "dataset_names",
    "download",
    "encode_dataset",
    "encode_split",
    "encode_texts",
    "load_brown_genres",
    "load_brown_lm",
    "load_brown_tagging",
    "load_dataset",
    "load_imdb",
    "load_imdb_short",
    "load_user_data",
    "pad_sequences",
    "read_brown",
    "read_ptb",
    "register_dataset",
    "sha256_of",
    "simplify_tag",
    "stratified_split",
    "tokenize",
    "tokenize_all",
]
