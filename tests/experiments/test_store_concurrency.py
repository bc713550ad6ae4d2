"""Parallel workers and a worker killed at any moment (SIGKILL), then resumed."""

import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnlab.experiments.store import ResultStore

from . import fake_study

EPOCHS = 3


def test_parallel_workers_claim_every_run_exactly_once_and_lose_no_epoch(tmp_path):
    path = tmp_path / "results.sqlite"  # created by whichever worker comes first
    context = multiprocessing.get_context("spawn")  # no fork: safe whatever the parent holds
    workers = 4
    start, results = context.Barrier(workers), context.Queue()
    processes = [
        context.Process(
            target=fake_study.work_in_process,
            args=(str(path), 4, EPOCHS, f"worker-{index}", start, results),  # 48 runs
        )
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    finished = dict(results.get(timeout=50) for _ in processes)
    for process in processes:
        process.join(timeout=10)
        assert process.exitcode == 0

    store = ResultStore(path)
    (study,) = store.studies()
    study_id = study.id
    run_ids = [run.id for run in store.runs(study_id)]
    assert len(run_ids) == 48  # every worker added the same runs: no duplicates
    claimed = [run_id for ids in finished.values() for run_id in ids]
    assert sorted(claimed) == sorted(run_ids)  # each run finished once, by one worker
    assert sum(bool(ids) for ids in finished.values()) >= 2  # they really ran in parallel
    runs = store.runs(study_id)
    assert {(run.status, run.attempts) for run in runs} == {("done", 1)}
    assert all(store.run(run_id).worker == worker for worker, ids in finished.items()
               for run_id in ids)  # fmt: skip
    epochs = store.study_epochs(study_id)
    assert len(epochs) == len(run_ids) * EPOCHS
    assert {(row.run_id, row.epoch) for row in epochs} == {
        (run_id, epoch) for run_id in run_ids for epoch in range(1, EPOCHS + 1)
    }
    store.close()


def _comparable_rows(path: Path) -> dict[str, list[tuple]]:
    """Everything but timings and worker bookkeeping, in a fixed order."""
    with sqlite3.connect(path) as connection:
        return {
            "studies": connection.execute("SELECT name, config_json FROM studies").fetchall(),
            "runs": connection.execute(
                "SELECT arrangement, run_index, seed, dataset, masked, config_json, status, "
                "test_accuracy, test_loss, checkpoint_path, error FROM runs ORDER BY 1, 2, 3, 4, 5"
            ).fetchall(),
            "epochs": connection.execute(
                "SELECT r.arrangement, r.run_index, r.masked, r.dataset, e.epoch, e.train_loss, "
                "e.train_accuracy, e.valid_loss, e.valid_accuracy, e.test_loss, e.test_accuracy, "
                "e.seconds FROM epochs e JOIN runs r ON r.id = e.run_id ORDER BY 1, 2, 3, 4, 5"
            ).fetchall(),
        }


def _epochs_written(path: Path) -> int:
    try:
        with sqlite3.connect(path, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM epochs").fetchone()[0]
    except sqlite3.OperationalError:  # the writer has not created the tables yet
        return 0


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    path = tmp_path_factory.mktemp("reference") / "results.sqlite"
    fake_study.run_study(str(path), "seed002", 2, EPOCHS, "reference", 0.0)
    return _comparable_rows(path)


# Kill after the first epoch, in the middle and near the end of 72 epochs; the writer
# keeps writing while we watch, so the kill lands wherever it happens to be, inside a
# transaction or between two.
@pytest.mark.parametrize("kill_after_epochs", [1, 30, 60])
def test_killed_worker_leaves_a_consistent_store_that_a_new_process_completes(
    tmp_path, uninterrupted, kill_after_epochs
):
    path = tmp_path / "results.sqlite"
    writer = subprocess.Popen(
        [sys.executable, fake_study.__file__, str(path), "seed002", "2", str(EPOCHS), "doomed",
         "0.002"]
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while _epochs_written(path) < kill_after_epochs and writer.poll() is None:
        assert time.monotonic() < deadline, "the writer made no progress"
        time.sleep(0.002)
    writer.send_signal(signal.SIGKILL)
    writer.wait()

    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        left_running = connection.execute(
            "SELECT COUNT(*) FROM runs WHERE status = 'running'"
        ).fetchone()[0]
    interrupted = _comparable_rows(path)
    assert len(interrupted["epochs"]) < len(uninterrupted["epochs"])

    # A fresh process (this one) resumes: the dead worker's run is reclaimed by itself.
    fake_study.run_study(str(path), "seed002", 2, EPOCHS, "resumer", 0.0)
    assert _comparable_rows(path) == uninterrupted
    store = ResultStore(path)
    runs = store.runs(store.study("seed002").id)
    assert all(run.status == "done" for run in runs)
    assert sum(run.attempts == 2 for run in runs) == left_running  # the interrupted run
    store.close()
