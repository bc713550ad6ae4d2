"""A tiny text file and tiny configs for the next-word run tests.

Also run as a script by the kill test: it trains and SIGKILLs itself after an epoch::

    python -m tests.train.nextword_helpers TEXT_FILE OUT_DIR KILL_AFTER_EPOCH
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np

from rnnlab.data.nextword_sources import NextWordDataConfig
from rnnlab.train.nextword_run import NextWordTrainConfig, model_config_for, train_nextword_run

WORDS = ["the", "cat", "dog", "sat", "on", "mat", "a", "saw", "log", "ran", "big", "red"]


def write_texts(path: Path, count: int = 48, seed: int = 0) -> Path:
    """``count`` lines of 3..9 words drawn from :data:`WORDS`."""
    rng = np.random.default_rng(seed)
    lines = [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 10)))) for _ in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def data_config(path: Path) -> NextWordDataConfig:
    return NextWordDataConfig(data=str(path), vocab_size=30, max_tokens=8, valid_fraction=0.25)


def model_config(variant: str = "fixed", softmax: str = "full", dropout: float = 0.2):
    """Sizes that all differ; dropout exercises the global RNG on resume."""
    return model_config_for(variant, 30, embedding_size=5, hidden_size=16, dropout=dropout,
                            softmax=softmax)


def train_config(epochs: int = 2) -> NextWordTrainConfig:
    return NextWordTrainConfig(epochs=epochs, batch_size=8, learning_rate=1e-2, seed=3)


def main(text_file: str, out_dir: str, kill_after: int) -> None:
    def kill(row) -> None:
        if row["epoch"] == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no atexit: a real crash

    train_nextword_run(data_config(Path(text_file)), model_config(softmax="adaptive"),
                       train_config(3), out_dir, progress=False, log=lambda _: None,
                       on_epoch=kill)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
