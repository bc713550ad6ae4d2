"""The life of one claimed run in the store, whatever it trains (a classifier, a toy task).

    claimed ──► epochs discarded ──► train (resume from the checkpoint) ──► done
                                      │  each epoch recorded as it ends    ├─► failed (it raised)
                                      └─ Ctrl-C ──► claim released ──► pending (resumable)

The checkpoint is the truth: the store forgets the run's epochs and the training replays
the ones its checkpoint restores (through ``on_epoch``) before training on, so epochs
recorded after the last checkpoint (a kill in between) are trained again.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from rnnlab.experiments.interrupts import interrupt_requested, raise_if_interrupted
from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.store_records import EpochMetrics, RunRow

__all__ = ["FinalScores", "train_claimed_run"]

OnEpoch = Callable[[EpochMetrics], None]


class FinalScores(Protocol):
    """What a finished training reports for the store (an epoch's metrics have these)."""

    test_accuracy: float | None
    test_loss: float | None


def train_claimed_run(store: ResultStore, run: RunRow, out_dir: Path,
                      train: Callable[[OnEpoch], FinalScores]) -> None:
    """Train (or resume) one claimed run and record it: every epoch, then done or failed.

    ``train(on_epoch)`` trains the run into ``out_dir`` (resuming from its checkpoint),
    calls ``on_epoch`` after each epoch (the restored ones first) and returns the final
    scores. An exception it raises marks the run 'failed' and the study goes on; Ctrl-C
    gives the claim back (the current epoch is lost, the checkpoint keeps the others) and
    propagates.
    """
    checkpoint = out_dir / "checkpoint.pt"
    started = time.perf_counter()
    previous_seconds = 0.0

    def record(metrics: EpochMetrics) -> None:
        nonlocal previous_seconds
        store.record_epoch(run.id, metrics, checkpoint_path=checkpoint)
        previous_seconds += metrics.seconds or 0.0
        raise_if_interrupted()  # a Ctrl-C dropped during the epoch (see interrupts) stops here

    try:
        try:
            store.discard_epochs_after(run.id, 0)
            final = train(record)
        except Exception:
            if interrupt_requested():  # raised by the interrupted code: not the run's failure
                raise KeyboardInterrupt from None
            store.fail_run(run.id, traceback.format_exc())  # shown in the report
            return
        raise_if_interrupted()  # the last epoch was interrupted: it is not done
        store.finish_run(run.id, test_accuracy=final.test_accuracy, test_loss=final.test_loss,
                         wall_seconds=max(previous_seconds, time.perf_counter() - started),
                         checkpoint_path=checkpoint)
    except KeyboardInterrupt:
        store.release_claims(run.study_id)
        raise
