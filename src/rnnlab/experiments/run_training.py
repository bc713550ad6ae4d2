"""What a worker does with a study: encode its data once, then train each run it claims.

    runs/<arrangement>[-masked]/run<r>/checkpoint.pt, metrics.json, config.json, vocab.json

A toy study (:mod:`rnnlab.experiments.toy_study`) has its own data and directories; both
kinds go through :func:`~rnnlab.experiments.claimed_run.train_claimed_run`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from rnnlab.experiments.claimed_run import FinalScores, OnEpoch, train_claimed_run
from rnnlab.experiments.interrupts import raise_if_interrupted
from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.store_records import RunRow
from rnnlab.experiments.study import StudyConfig
from rnnlab.experiments.toy_runner import is_toy_run, train_toy_run
from rnnlab.experiments.toy_study import is_toy_study, prepare_toy_data

__all__ = ["prepare_data", "run_directory", "train_one_run", "train_pending_runs"]


def prepare_data(study: StudyConfig) -> Any:
    """Load and encode the study's dataset once per worker (deterministic: same vocabulary)."""
    if is_toy_study(study):  # a toy task: generated held-out sets (quotes: the text)
        return prepare_toy_data(study)
    from rnnlab.data import EncodingConfig, VocabConfig, load_dataset
    from rnnlab.train import encode_dataset

    dataset = load_dataset(study.dataset, **study.data_options)
    return encode_dataset(
        dataset, vocab_config=VocabConfig(max_size=study.vocab_size),
        encoding=EncodingConfig(maxlen=study.maxlen, padding=study.padding,
                                truncating=study.padding))


def run_directory(study_dir: Path, run: RunRow) -> Path:
    """``runs/<arrangement>[-masked]/run<r>``: where one run's checkpoint and files live."""
    suffix = "-masked" if run.masked else ""
    return study_dir / "runs" / f"{run.arrangement}{suffix}" / f"run{run.run_index}"


def train_one_run(store: ResultStore, run: RunRow, data: Any, study_dir: Path,
                  progress: bool = False) -> None:
    """Train (or resume) one claimed run, recording each epoch; marks it done or failed."""
    if is_toy_run(run):
        return train_toy_run(store, run, data, study_dir, progress)
    from rnnlab.models import ClassifierConfig
    from rnnlab.train import TrainConfig, train_classifier

    config = run.config
    out_dir = run_directory(study_dir, run)

    def train(on_epoch: OnEpoch) -> FinalScores:
        result = train_classifier(
            ClassifierConfig.from_dict(config["model"]), data, seed=run.seed,
            data_seed=run.seed, out_dir=out_dir, epochs=config["epochs"],
            train_config=TrainConfig.from_dict(config["training"]), resume=True,
            on_epoch=on_epoch, progress=progress)
        return result.final

    train_claimed_run(store, run, out_dir, lambda on_epoch: when_unlocked(train, on_epoch))


# A claimed run's directory is free unless the worker that trained it before, which the store
# already counts as dead, is still exiting: a worker SIGKILLed with its parent can hold the
# run's lock for a moment after its claim was released (seen on a loaded 2-core machine).
LOCK_WAIT_SECONDS = 30.0


def when_unlocked(train: Any, on_epoch: OnEpoch) -> FinalScores:
    """``train(on_epoch)``, retried while the run directory's lock is held, for up to
    :data:`LOCK_WAIT_SECONDS` (the lock is taken before anything is written or recorded, so
    a refused attempt leaves nothing behind); then the lock's error, naming the holder."""
    from rnnlab.train.run_lock import RunLockedError

    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            return train(on_epoch)
        except RunLockedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def train_pending_runs(store: ResultStore, study_id: int, data: Any, study_dir: Path, *,
                       worker: str, parent_pid: int | None = None,
                       only: Collection[int] | None = None) -> int:
    """Claim and train the study's runs (those with an id in ``only`` when given) one at a
    time until none is pending (or, given ``parent_pid``, until that parent process is
    gone). Returns the runs trained."""
    trained = 0
    while parent_pid is None or os.getppid() == parent_pid:
        raise_if_interrupted()  # a Ctrl-C dropped since the last run (see interrupts)
        run = store.claim_next_run(study_id, worker, only)
        if run is None:
            break
        train_one_run(store, run, data, study_dir)
        trained += 1
    return trained
