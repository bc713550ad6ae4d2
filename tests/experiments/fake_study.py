"""Deterministic fake training results, written through the store as a runner would.

Used by the store, resume and report tests, and run as a script by the kill test::

    python fake_study.py STORE_PATH STUDY_NAME RUNS EPOCHS WORKER [DELAY_SECONDS]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from rnnlab.experiments.arrangement_names import SEED_ARRANGEMENTS
from rnnlab.experiments.store import EpochMetrics, ResultStore, RunRow, RunSpec

STUDY_CONFIG = {"dataset": "imdb-short", "vocabulary": 5000, "max_tokens": 100}


def seed_of(run_index: int) -> int:
    return 1000 + run_index


def fake_accuracy(arrangement: str, run_index: int, epoch: int, masked: bool = False) -> float:
    """A made-up accuracy, different for every (arrangement, run, epoch, masking)."""
    position = SEED_ARRANGEMENTS.index(arrangement) if arrangement in SEED_ARRANGEMENTS else 0
    return round(0.70 + 0.01 * position + 0.003 * run_index + 0.02 * epoch + 0.005 * masked, 6)


def fake_epoch(run: RunRow, epoch: int) -> EpochMetrics:
    accuracy = fake_accuracy(run.arrangement, run.run_index, epoch, run.masked)
    return EpochMetrics(
        epoch=epoch,
        train_loss=round(1.0 / epoch, 6),
        train_accuracy=accuracy,
        valid_loss=round(1.1 / epoch, 6),
        valid_accuracy=round(accuracy - 0.01, 6),
        test_loss=round(1.2 / epoch, 6),
        test_accuracy=round(accuracy - 0.02, 6),
        seconds=0.01,
    )


def study_specs(
    runs: int,
    arrangements: Sequence[str] = SEED_ARRANGEMENTS,
    masked: Sequence[bool] = (False,),
    dataset: str = "imdb-short",
) -> list[RunSpec]:
    return [
        RunSpec(
            arrangement=name,
            run_index=index,
            seed=seed_of(index),
            dataset=dataset,
            masked=is_masked,
            config={"arrangement": name, "seed": seed_of(index), "masked": is_masked,
                    "model": {"embedding": 64, "hidden": 128}},
        )
        for is_masked in masked
        for index in range(runs)
        for name in arrangements
    ]  # fmt: skip


def work(
    store: ResultStore, study_id: int, epochs: int, worker: str, delay_seconds: float = 0.0
) -> list[int]:
    """Claim and train runs until none is pending, resuming from the last recorded
    epoch as a checkpointing runner would. Returns the ids of the runs it finished."""
    finished = []
    while (run := store.claim_next_run(study_id, worker)) is not None:
        start = run.last_epoch or 0
        store.discard_epochs_after(run.id, start)
        for epoch in range(start + 1, epochs + 1):
            time.sleep(delay_seconds)
            store.record_epoch(run.id, fake_epoch(run, epoch), checkpoint_path=f"ckpt/{run.id}")
        final = fake_epoch(run, epochs)
        store.finish_run(run.id, test_accuracy=final.test_accuracy, test_loss=final.test_loss)
        finished.append(run.id)
    return finished


def run_study(path: str, name: str, runs: int, epochs: int, worker: str, delay: float) -> None:
    store = ResultStore(path)
    study_id = store.ensure_study(name, STUDY_CONFIG)
    store.add_runs(study_id, study_specs(runs))
    work(store, study_id, epochs, worker, delay)


def work_in_process(path: str, runs: int, epochs: int, worker: str, start, results) -> None:
    """Target of a multiprocessing.Process: wait for every worker, then all at once open
    the (new) store, add the study's runs and race to claim them."""
    start.wait()
    store = ResultStore(path)
    study_id = store.ensure_study("seed002", STUDY_CONFIG)
    store.add_runs(study_id, study_specs(runs))
    results.put((worker, work(store, study_id, epochs, worker, delay_seconds=0.002)))


if __name__ == "__main__":
    path, name, runs, epochs, worker, *rest = sys.argv[1:]
    run_study(path, name, int(runs), int(epochs), worker, float(rest[0]) if rest else 0.0)
