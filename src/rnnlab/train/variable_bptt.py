"""Variable-length BPTT windows (Merity et al. 2017, section 4.1), over the same streams.

A fixed ``bptt`` starts every window at a multiple of it, so the same tokens always begin a
window and never get a long history. AWD-LSTM draws each window's length instead::

    base = bptt        with probability 0.95,  bptt / 2 otherwise
    time = max(5, int(Normal(base, 5)))        (their code: np.random.normal, then int)

    streams (batch, steps)    |-- 71 --|-- 66 --|--- 74 ---|-- 33 --|-- 70 --| … |- rest -|

The windows cover each stream of :class:`~rnnlab.data.tbptt.TBPTTBatches` in order, the last
one cut at the stream's end, so the state hand-over and every target are as with fixed
windows; only where the cuts fall changes. The lengths come from an explicit seed (one per
epoch in :mod:`rnnlab.train.lm_run`), so a resumed run draws the same windows.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from rnnlab.data.tbptt import TBPTTBatches

SHORT_PROBABILITY = 0.05  # Merity et al.: "with probability 0.05", base bptt / 2
LENGTH_STD = 5.0  # N(bptt, 5)
MIN_LENGTH = 5  # their code's floor against tiny or negative lengths


def window_lengths(steps: int, bptt: int, seed: int) -> tuple[int, ...]:
    """Window lengths covering streams of ``steps`` tokens (``steps - 1`` targets each)."""
    if bptt < 1:
        raise ValueError(f"bptt must be >= 1, got {bptt}")
    rng = random.Random(seed)
    lengths, start = [], 0
    while start < steps - 1:
        base = bptt if rng.random() >= SHORT_PROBABILITY else bptt / 2
        length = min(max(MIN_LENGTH, int(rng.gauss(base, LENGTH_STD))), steps - 1 - start)
        lengths.append(length)
        start += length
    return tuple(lengths)


@dataclass(frozen=True)
class VariableBPTTBatches:
    """The windows of ``streams (batch, steps)`` with the given ``lengths``; the same
    interface as :class:`~rnnlab.data.tbptt.TBPTTBatches` (``batch``, ``len``, iteration)."""

    streams: torch.Tensor
    lengths: tuple[int, ...]
    bptt: int  # the base length the lengths were drawn around (the lr scale's reference)

    @classmethod
    def draw(cls, batches: TBPTTBatches, seed: int) -> VariableBPTTBatches:
        steps = int(batches.streams.shape[1])
        return cls(batches.streams, window_lengths(steps, batches.bptt, seed), batches.bptt)

    def __post_init__(self) -> None:
        steps = int(self.streams.shape[1])
        if sum(self.lengths) != steps - 1 or min(self.lengths, default=1) < 1:
            raise ValueError(f"lengths must be >= 1 and sum to steps - 1 = {steps - 1}, got "
                             f"sum {sum(self.lengths)}")

    @property
    def batch(self) -> int:
        return int(self.streams.shape[0])

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        start = 0
        for length in self.lengths:
            yield (self.streams[:, start : start + length],
                   self.streams[:, start + 1 : start + 1 + length])
            start += length
