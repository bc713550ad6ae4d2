"""Seed 002's 12 arrangements as a user would write them in plain PyTorch, and a timer.

The baseline of ``bench_study.py``: ``torch.nn.LSTM``/``torch.nn.GRU`` (fused kernels), Adam
(lr 1e-3), binary cross-entropy, batch 32, a shuffled epoch, no rnnlab anywhere::

    Embedding(5000, 64) → [LSTM|GRU](128) [× 2 stacked | bidirectional] → last state (RSF)
                          or the mean of all states (RST) → Linear(64) → Linear(1) → sigmoid

Run as a script it trains every arrangement given (one after another, in this process) and
prints one JSON line per arrangement with its epoch times and test accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch
from torch import nn

from keras_seed_models import DENSE_SIZE, EMBEDDING_SIZE, HIDDEN_SIZE, SEED_ARRANGEMENTS


class SeedModel(nn.Module):
    """ids ``(batch, time)`` → logits ``(batch,)``."""

    def __init__(self, name: str, num_words: int) -> None:
        super().__init__()
        stack, self.output_type, cell_name = name.split("_")
        rnn = nn.LSTM if cell_name.endswith("LSTM") else nn.GRU
        bidirectional = cell_name.startswith("bi")
        layers = 2 if stack == "MS" and not bidirectional else 1
        self.embedding = nn.Embedding(num_words, EMBEDDING_SIZE)
        self.rnn = rnn(EMBEDDING_SIZE, HIDDEN_SIZE, num_layers=layers, batch_first=True,
                       bidirectional=bidirectional)
        width = HIDDEN_SIZE * (2 if bidirectional else 1)
        self.dense = nn.Linear(width, DENSE_SIZE)
        self.out = nn.Linear(DENSE_SIZE, 1)
        self.bidirectional = bidirectional

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(self.embedding(ids))
        if self.output_type == "RST":
            features = states.mean(dim=1)
        elif self.bidirectional:  # Keras' Bidirectional: forward's last step ⊕ backward's
            half = HIDDEN_SIZE
            features = torch.cat([states[:, -1, :half], states[:, 0, half:]], dim=-1)
        else:
            features = states[:, -1]
        return self.out(self.dense(features)).squeeze(-1)


def train_one(name: str, arrays: dict, *, epochs: int, seed: int, num_words: int) -> dict:
    torch.manual_seed(seed)
    generator = np.random.default_rng(seed)
    x_train = torch.as_tensor(arrays["x_train"], dtype=torch.long)
    y_train = torch.as_tensor(arrays["y_train"], dtype=torch.float32)
    model = SeedModel(name, num_words)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    epoch_seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        model.train()
        order = torch.as_tensor(generator.permutation(len(x_train)))
        for start in range(0, len(order), 32):
            batch = order[start:start + 32]
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
        epoch_seconds.append(time.perf_counter() - started)
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(torch.as_tensor(arrays["x_test"][i:i + 256]))
                            for i in range(0, len(arrays["x_test"]), 256)])
    accuracy = float(((logits > 0).float().numpy() == arrays["y_test"]).mean())
    return {"side": "plain-torch", "arrangement": name, "epoch_seconds": epoch_seconds,
            "test_accuracy": accuracy, "threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help=".npz written by the benchmark")
    parser.add_argument("--arrangements", default=",".join(SEED_ARRANGEMENTS))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--num-words", type=int, default=5000)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with np.load(args.data) as loaded:
        arrays = {key: loaded[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    for name in args.arrangements.split(","):
        result = train_one(name, arrays, epochs=args.epochs, seed=args.seed,
                           num_words=args.num_words)
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
