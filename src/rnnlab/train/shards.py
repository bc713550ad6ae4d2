"""Each rank's share of the data under DDP (see :mod:`rnnlab.train.distributed`).

A classifier shards every batch of the one-process order of batch N·B, so each rank takes the
same number of steps (unequal step counts hang DDP, pytorch#38174). A rank whose piece of a
short last batch is empty re-runs one example with weight 0, to keep the collectives in step::

    one process, batch 2B:  [e5 e1 e8 e3] [e0 e7 e2 e6] [e4]
    rank 0, batch B:        [e5 e1]       [e0 e7]       [e4]      loss × n_rank·N / n_batch
    rank 1, batch B:        [e8 e3]       [e2 e6]       [e4]·0    (weight 0: no gradient)

A language model gives each rank a contiguous slice of the token stream, cut so that rank r's
B streams are streams rB … rB+B-1 of the one-process layout with N·B streams; each rank
carries its own state across windows::

    ids     |------- rank 0: B streams -------|------- rank 1: B streams -------|  (rest dropped)
"""

from __future__ import annotations

import numpy as np
from torch import nn

from rnnlab.data.prepare import EncodedSplit
from rnnlab.train.distributed import World
from rnnlab.train.metrics import evaluate_split


# -- classifiers ------------------------------------------------------------------------------
def check_examples(count: int, world: World, what: str = "the training split") -> None:
    """Refuse a world size that leaves a rank without a single example."""
    if count < world.size:
        raise ValueError(f"WORLD_SIZE={world.size} processes but {what} has {count} "
                         f"example(s): every rank needs at least one; use at most {count} "
                         "processes (torchrun --nproc-per-node) or more data")


def shard_batch(index: np.ndarray, world: World) -> tuple[np.ndarray, float]:
    """This rank's piece of a batch and its loss weight ``n_rank · size / n_batch``.

    With the weight, DDP's average of the ranks' mean losses is the mean over the whole
    batch, whatever the split. An empty piece becomes the batch's first example at weight 0.
    """
    if world.size == 1:
        return index, 1.0
    piece = index[world.rows(len(index))]
    if len(piece) == 0:
        return index[:1], 0.0
    return piece, len(piece) * world.size / len(index)


def evaluate_shared(
    model: nn.Module, split: EncodedSplit, *, padding: str, batch_size: int, world: World
) -> tuple[float, float]:
    """:func:`~rnnlab.train.metrics.evaluate_split` with each rank scoring a contiguous
    share of ``split``: the same (mean loss, accuracy), up to float summation order."""
    if world.size == 1:
        return evaluate_split(model, split, padding=padding, batch_size=batch_size)
    rows = world.rows(len(split))
    share = EncodedSplit(split.ids[rows], split.lengths[rows], split.labels[rows])
    loss_sum = correct = 0.0
    if len(share):
        loss, accuracy = evaluate_split(model, share, padding=padding, batch_size=batch_size)
        loss_sum, correct = loss * len(share), round(accuracy * len(share))
    loss_sum, correct, count = world.sum(loss_sum, correct, len(share))
    return loss_sum / count, correct / count


# -- language models --------------------------------------------------------------------------
def lm_train_slice(ids: np.ndarray, batch: int, world: World) -> np.ndarray:
    """This rank's contiguous slice of the training stream (see the module docstring)."""
    if world.size == 1:
        return ids
    steps = len(ids) // (batch * world.size)
    if steps < 2:
        raise ValueError(
            f"WORLD_SIZE={world.size} processes × --batch-size {batch} streams need at least "
            f"{2 * batch * world.size} training tokens (2 per stream), the corpus has "
            f"{len(ids)}: use fewer processes (torchrun --nproc-per-node), a smaller "
            "--batch-size or more data")
    share = batch * steps
    return ids[world.rank * share : (world.rank + 1) * share]
