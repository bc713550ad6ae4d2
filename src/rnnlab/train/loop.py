"""One epoch of training, and the early-stopping bookkeeping.

The batch order of epoch ``e`` is ``bucket_batches(lengths, seed=data_seed, epoch=e)``: a
pure function of the data seed and the epoch, drawn from its own generator. Two arrangements
trained on the same data seed therefore see the same batches in the same order, and a
resumed run needs no batch-order state to continue exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rnnlab.data import BucketConfig, batch_tensors, bucket_batches
from rnnlab.data.prepare import EncodedSplit
from rnnlab.train.config import TrainConfig
from rnnlab.train.distributed import SINGLE, World, unwrap
from rnnlab.train.divergence import check_finite, classifier_advice
from rnnlab.train.metrics import classification_loss, correct_count, is_masked
from rnnlab.train.progress import EpochBar
from rnnlab.train.shards import shard_batch


def epoch_batches(
    split: EncodedSplit, config: TrainConfig, *, data_seed: int, epoch: int
) -> list[np.ndarray]:
    """The shuffled index batches of one epoch (``epoch`` counts from 1)."""
    bucket = BucketConfig(batch_size=config.batch_size, pool_batches=config.bucket_pool_batches)
    return bucket_batches(split.lengths, bucket, seed=data_seed, epoch=epoch)


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    split: EncodedSplit,
    batches: list[np.ndarray],
    *,
    padding: str,
    config: TrainConfig,
    bar: EpochBar,
    epoch: int | None = None,
    world: World = SINGLE,
) -> tuple[float, float]:
    """One pass over ``batches``; returns the example-weighted mean (loss, accuracy).

    In a process group (``world``, ``model`` wrapped in DDP) each rank trains on its piece
    of every batch (:func:`~rnnlab.train.distributed.shard_batch`) and the means are over
    all ranks' examples.

    A NaN or infinite batch loss raises :class:`~rnnlab.train.divergence.TrainingDivergedError`
    before that batch updates the weights (``epoch`` only names where, in the message).
    """
    model.train()
    # An unmasked model reads the padding, so it must get all of it (Keras's fixed width).
    trim = is_masked(unwrap(model))
    total_loss, correct, seen = 0.0, 0, 0
    for number, batch in enumerate(bar, start=1):
        index, weight = shard_batch(batch, world)
        ids, lengths, labels = batch_tensors(split.ids, split.lengths, split.labels, index,
                                             padding=padding, trim=trim)
        optimizer.zero_grad(set_to_none=True)
        logits = model(ids, lengths)
        loss = classification_loss(logits, labels)
        batch_loss = float(loss.detach())
        batch_loss = world.finite_or_nan(batch_loss)
        if not math.isfinite(batch_loss):
            bar.close()
            where = f"batch {number} of {len(batches)}"
            check_finite(batch_loss, f"the training loss of {where}"
                         + ("" if epoch is None else f" in epoch {epoch}"),
                         advice=classifier_advice(config.lr, config.clip_grad_norm))
        (loss if weight == 1.0 else loss * weight).backward()
        if config.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
        optimizer.step()
        if weight == 0.0:  # a stand-in example (see shard_batch): not part of the epoch
            continue
        total_loss += batch_loss * len(index)
        correct += correct_count(logits.detach(), labels)
        seen += len(index)
        bar.update_metrics(total_loss / seen, correct / seen)
    bar.close()
    total_loss, correct, seen = world.sum(total_loss, correct, seen)
    if seen == 0:
        raise ValueError("the training split is empty: nothing to train on")
    return total_loss / seen, correct / seen


@dataclass
class EarlyStopping:
    """Tracks the best valid loss; ``patience=None`` never stops (but still tracks the best)."""

    patience: int | None
    best_epoch: int = 0
    best_loss: float = float("inf")
    bad_epochs: int = 0

    def update(self, epoch: int, valid_loss: float | None) -> bool:
        """Record an epoch; True if it is the new best."""
        if valid_loss is not None and valid_loss < self.best_loss:
            self.best_epoch, self.best_loss, self.bad_epochs = epoch, valid_loss, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, float | int | None]:
        return {"patience": self.patience, "best_epoch": self.best_epoch,
                "best_loss": self.best_loss, "bad_epochs": self.bad_epochs}

    @classmethod
    def from_state_dict(cls, state: dict) -> EarlyStopping:
        return cls(**state)
