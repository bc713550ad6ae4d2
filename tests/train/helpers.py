"""A tiny synthetic sentiment task and tiny model configs for the training tests.

Also run as a script by the kill test: it trains and SIGKILLs itself after an epoch::

    python -m tests.train.helpers OUT_DIR KILL_AFTER_EPOCH
"""

from __future__ import annotations

import os
import signal
import sys

import numpy as np

from rnnlab.data import EncodingConfig, TextDataset, TextSplit, VocabConfig
from rnnlab.models import ClassifierConfig
from rnnlab.train import ClassificationData, TrainConfig, encode_dataset, train_classifier

FILLER = ["the", "a", "film", "movie", "plot", "actor", "scene", "was", "is", "and"]


def synthetic_split(count: int, seed: int, prefix: str) -> TextSplit:
    """Texts of 2..9 filler words with "great" (label 1, pos) or "awful" (label 0) inserted."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(count):
        label = int(rng.integers(2))
        words = list(rng.choice(FILLER, size=int(rng.integers(2, 10))))
        words.insert(int(rng.integers(len(words) + 1)), "great" if label else "awful")
        texts.append(" ".join(words))
        labels.append(label)
    return TextSplit(tuple(texts), np.array(labels), tuple(f"{prefix}{i}" for i in range(count)))


def synthetic_dataset(train: int = 48, valid: int = 16, test: int = 16) -> TextDataset:
    return TextDataset("synthetic", synthetic_split(train, 1, "train"),
                       synthetic_split(valid, 2, "valid"), synthetic_split(test, 3, "test"),
                       ("neg", "pos"))


def synthetic_data(padding: str = "pre", **sizes: int) -> ClassificationData:
    return encode_dataset(synthetic_dataset(**sizes), vocab_config=VocabConfig(max_size=20),
                          encoding=EncodingConfig(maxlen=12, padding=padding,
                                                  truncating=padding))


def tiny_config(data: ClassificationData, name: str = "MS_RST_LSTM", **overrides):
    """Tiny sizes that all differ; 2 layers with dropout exercise the global RNG on resume."""
    fields = {"embedding_size": 5, "hidden_size": 6, "dense_size": 7,
              "vocab_size": len(data.vocab), "padding": data.padding}
    return ClassifierConfig.from_arrangement(name, **{**fields, **overrides})


RESUME_CONFIG = {"dropout": 0.3}
RESUME_TRAIN = TrainConfig(epochs=4, batch_size=8, lr=1e-2)


def main(out_dir: str, kill_after: int) -> None:
    data = synthetic_data()

    def kill(metrics) -> None:
        if metrics.epoch == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no atexit: a real crash

    train_classifier(tiny_config(data, **RESUME_CONFIG), data, seed=5, out_dir=out_dir,
                     train_config=RESUME_TRAIN, on_epoch=kill, progress=False)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
