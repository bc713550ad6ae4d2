"""Length-bucketed batches of example indices, seeded and deterministic.

Padding costs compute in proportion to the gap between the longest and shortest sequence of
a batch. Bucketing shuffles the examples, cuts the shuffled order into pools of
``batch_size * pool_batches`` examples, sorts each pool by length and cuts it into batches,
then shuffles the order of the batches::

    shuffled:  [e5 e1 e8 e3 | e0 e7 e2 e6 | ...]    pools of batch_size * pool_batches
    sorted:    [e1 e3 e5 e8 | e2 e0 e6 e7 | ...]    by length inside each pool
    batches:   [e1 e3] [e5 e8] [e2 e0] [e6 e7] ...  then the batch order is shuffled

Batches are therefore close in length yet differ from epoch to epoch. Everything is drawn
from ``numpy.random.default_rng((seed, epoch))``: same seed and epoch, same batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rnnlab.data.errors import DataError

if TYPE_CHECKING:  # torch is imported only when a batch tensor is made
    import torch


@dataclass(frozen=True)
class BucketConfig:
    """How examples are grouped into batches."""

    batch_size: int = 32  # seed 002 trains with Keras's default batch size
    pool_batches: int = 50  # batches per sorting pool: larger = tighter lengths, less random
    shuffle: bool = True  # False = pools in input order and batches in pool order
    drop_last: bool = False  # drop a final batch smaller than batch_size

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.pool_batches < 1:
            raise DataError(f"pool_batches must be >= 1, got {self.pool_batches}")


def bucket_batches(
    lengths: Sequence[int] | np.ndarray,
    config: BucketConfig = BucketConfig(),
    seed: int = 0,
    epoch: int = 0,
) -> list[np.ndarray]:
    """Index batches for one epoch.

    lengths: (examples,) sequence lengths.
    Returns a list of int64 index arrays, each of shape (batch,), covering every example
    exactly once (minus a short last batch if ``drop_last``).
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.ndim != 1:
        raise DataError(f"lengths must be 1-D (examples,), got shape {lengths.shape}")
    rng = np.random.default_rng((seed, epoch))
    order = rng.permutation(len(lengths)) if config.shuffle else np.arange(len(lengths))
    pool_size = config.batch_size * config.pool_batches
    batches: list[np.ndarray] = []
    for start in range(0, len(order), pool_size):
        pool = order[start : start + pool_size]
        pool = pool[np.argsort(lengths[pool], kind="stable")]
        batches.extend(
            pool[i : i + config.batch_size] for i in range(0, len(pool), config.batch_size)
        )
    if config.drop_last:
        batches = [batch for batch in batches if len(batch) == config.batch_size]
    if config.shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return [np.asarray(batch, dtype=np.int64) for batch in batches]


class BucketBatchSampler:
    """A ``torch.utils.data.DataLoader`` ``batch_sampler``: call ``set_epoch`` each epoch.

    >>> sampler = BucketBatchSampler(lengths, BucketConfig(batch_size=32), seed=0)
    >>> loader = DataLoader(dataset, batch_sampler=sampler)
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        config: BucketConfig = BucketConfig(),
        seed: int = 0,
    ) -> None:
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.config = config
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        for batch in bucket_batches(self.lengths, self.config, self.seed, self.epoch):
            yield batch.tolist()

    def __len__(self) -> int:
        pool_size = self.config.batch_size * self.config.pool_batches
        # each pool may end in a short batch of its own
        count = 0
        for start in range(0, len(self.lengths), pool_size):
            size = min(pool_size, len(self.lengths) - start)
            count += size // self.config.batch_size
            if size % self.config.batch_size and not self.config.drop_last:
                count += 1
        return count


def trim_to_longest(ids: np.ndarray, lengths: np.ndarray, padding: str = "pre") -> np.ndarray:
    """``ids (batch, time)`` cut to ``(batch, longest)``, at least one column: the right end
    is kept for ``padding="pre"``, the left end for "post" (NumPy only: the torch-free
    predictor batches with it too)."""
    width = max(int(lengths.max()), 1) if len(lengths) else 1
    return ids[:, -width:] if padding == "pre" else ids[:, :width]


def batch_tensors(
    ids: np.ndarray,
    lengths: np.ndarray,
    labels: np.ndarray | None,
    index: np.ndarray,
    padding: str = "pre",
    trim: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Gather one batch as torch tensors.

    ids: (examples, time) padded ids; lengths: (examples,); labels: (examples,) or None;
    index: (batch,) rows to take. With ``trim`` the time axis is cut to the longest sequence
    of the batch (keeping the right end for ``padding="pre"``, the left end for "post").
    Returns ``(ids (batch, time'), lengths (batch,), labels (batch,) or None)`` int64 tensors.
    """
    import torch

    batch_ids = ids[index]
    batch_lengths = lengths[index]
    if trim and len(index):
        batch_ids = trim_to_longest(batch_ids, batch_lengths, padding)
    batch_labels = None if labels is None else torch.as_tensor(labels[index])
    return (
        torch.as_tensor(np.ascontiguousarray(batch_ids)),
        torch.as_tensor(batch_lengths),
        batch_labels,
    )
