import math
import pickle
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from rnnlab.experiments.store import EpochMetrics, ResultStore, RunSpec

from .fake_study import STUDY_CONFIG, fake_epoch, study_specs


@pytest.fixture
def store(tmp_path):
    with ResultStore(tmp_path / "results.sqlite") as opened:
        yield opened


@pytest.fixture
def study_id(store):
    study = store.ensure_study("seed002", STUDY_CONFIG)
    store.add_runs(study, study_specs(runs=2, arrangements=["SS_RSF_LSTM", "SS_RST_LSTM"]))
    return study


def _columns(path, table):
    with sqlite3.connect(path) as connection:
        return [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]


def test_schema_has_studies_runs_and_epochs_in_wal_mode(store):
    assert _columns(store.path, "studies") == ["id", "name", "config_json", "created_at"]
    assert _columns(store.path, "runs") == [
        "id", "study_id", "arrangement", "run_index", "seed", "dataset", "masked",
        "config_json", "status", "attempts", "worker", "worker_host", "worker_pid",
        "worker_token", "started_at", "finished_at", "wall_seconds", "checkpoint_path",
        "error", "test_accuracy", "test_loss",
    ]  # fmt: skip
    assert _columns(store.path, "epochs") == [
        "run_id", "epoch", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy",
        "test_loss", "test_accuracy", "seconds", "recorded_at",
    ]  # fmt: skip
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 1


def test_database_refuses_duplicate_runs_and_epochs_even_outside_the_api(store, study_id):
    run = store.runs(study_id)[0]
    with sqlite3.connect(store.path) as connection, pytest.raises(sqlite3.IntegrityError):
        connection.execute(
            "INSERT INTO runs (study_id, arrangement, run_index, masked, dataset, seed, "
            "config_json) VALUES (?, ?, ?, ?, ?, 0, '{}')",
            (study_id, run.arrangement, run.run_index, int(run.masked), run.dataset),
        )
    with sqlite3.connect(store.path) as connection, pytest.raises(sqlite3.IntegrityError):
        for _ in range(2):
            connection.execute(
                "INSERT INTO epochs (run_id, epoch, recorded_at) VALUES (?, 1, 'now')", (run.id,)
            )


def test_newer_schema_version_is_refused(tmp_path):
    path = tmp_path / "results.sqlite"
    ResultStore(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="schema version 99"):
        ResultStore(path)


def test_ensure_study_is_idempotent_and_refuses_a_different_config(store):
    first = store.ensure_study("seed002", STUDY_CONFIG)
    assert store.ensure_study("seed002", dict(reversed(STUDY_CONFIG.items()))) == first
    with pytest.raises(ValueError, match="different config"):
        store.ensure_study("seed002", {**STUDY_CONFIG, "vocabulary": 10})
    assert store.ensure_study("seed002", {"vocabulary": 10}, replace_config=True) == first
    assert store.study("seed002").config == {"vocabulary": 10}
    with pytest.raises(LookupError, match=r"stored studies: \['seed002'\]"):
        store.study("nope")


def test_add_runs_is_idempotent(store, study_id):
    before = store.runs(study_id)
    again = store.add_runs(study_id, study_specs(2, ["SS_RSF_LSTM", "SS_RST_LSTM"]))
    assert again == tuple(run.id for run in before)
    assert store.runs(study_id) == before
    assert store.status_counts(study_id) == {"pending": 4, "running": 0, "done": 0, "failed": 0}


def test_add_runs_with_a_changed_seed_fails_and_adds_nothing(store, study_id):
    changed = RunSpec("SS_RSF_LSTM", 0, 7, "imdb-short", False, {"x": 1})
    new = RunSpec("MS_RSF_LSTM", 0, 1000, "imdb-short", False, {"x": 1})
    with pytest.raises(ValueError, match="already stored with seed 1000"):
        store.add_runs(study_id, [new, changed])
    assert len(store.runs(study_id)) == 4  # the transaction rolled back `new` too


def test_claims_go_by_run_index_and_mark_the_run_running(store, study_id):
    first = store.claim_next_run(study_id, "worker-1")
    second = store.claim_next_run(study_id, "worker-2")
    assert (first.arrangement, first.run_index) == ("SS_RSF_LSTM", 0)
    assert (second.arrangement, second.run_index) == ("SS_RST_LSTM", 0)
    assert (first.status, first.attempts, first.worker) == ("running", 1, "worker-1")
    assert first.started_at is not None and first.last_epoch is None
    store.claim_next_run(study_id, "w"), store.claim_next_run(study_id, "w")
    assert store.claim_next_run(study_id, "w") is None


def test_record_epoch_upserts_and_finish_run_stores_final_metrics(store, study_id):
    run = store.claim_next_run(study_id, "w")
    store.record_epoch(run.id, EpochMetrics(1, valid_accuracy=0.6))
    store.record_epoch(run.id, {"epoch": 1, "valid_accuracy": 0.7}, checkpoint_path="c/1.pt")
    store.record_epoch(run.id, fake_epoch(run, 2))
    epochs = store.epochs(run.id)
    assert [(row.epoch, row.valid_accuracy) for row in epochs] == [
        (1, 0.7),
        (2, fake_epoch(run, 2).valid_accuracy),
    ]
    assert store.run(run.id).last_epoch == 2
    store.finish_run(run.id, test_accuracy=0.81, test_loss=0.4)
    done = store.run(run.id)
    assert (done.status, done.test_accuracy, done.test_loss) == ("done", 0.81, 0.4)
    assert done.checkpoint_path == "c/1.pt" and done.wall_seconds >= 0
    assert done.finished_at >= done.started_at
    assert [row.epoch for row in store.study_epochs(study_id)] == [1, 2]
    runs, epochs = store.snapshot(study_id)
    assert len(runs) == 4 and len(epochs) == 2


def test_discard_epochs_after_forgets_what_the_checkpoint_lacks(store, study_id):
    run = store.claim_next_run(study_id, "w")
    for epoch in (1, 2, 3):
        store.record_epoch(run.id, fake_epoch(run, epoch))
    assert store.discard_epochs_after(run.id, 1) == 2
    assert [row.epoch for row in store.epochs(run.id)] == [1]


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"epoch": 1, "valid_acc": 0.5}, "unknown epoch metric"),
        ({"valid_accuracy": 0.5}, "'epoch' key"),
        ({"epoch": 1, "valid_accuracy": 81.0}, r"fraction in \[0, 1\]"),
        ({"epoch": 1, "train_loss": math.nan}, "NaN"),
        ({"epoch": -1}, "epoch must be an int >= 0"),
        ({"epoch": 1, "seconds": "fast"}, "must be a number"),
        ({"epoch": 1, "valid_perplexity": 80.0}, "holds classifier epochs"),
    ],
)
def test_bad_epoch_metrics_are_rejected_with_the_name(store, study_id, metrics, message):
    run = store.claim_next_run(study_id, "w")
    with pytest.raises(ValueError, match=message):
        store.record_epoch(run.id, metrics)


def test_results_can_only_be_recorded_for_a_claimed_run(store, study_id):
    pending = store.runs(study_id)[0]
    with pytest.raises(ValueError, match="is 'pending', not 'running'"):
        store.record_epoch(pending.id, EpochMetrics(1))
    with pytest.raises(ValueError, match="not 'running'"):
        store.finish_run(pending.id, test_accuracy=0.5)
    with pytest.raises(LookupError, match="no run with id 999"):
        store.fail_run(999, "x")
    run = store.claim_next_run(study_id, "w")
    with pytest.raises(ValueError, match="fraction"):
        store.finish_run(run.id, test_accuracy=80.0)


def test_failed_runs_keep_their_error_and_can_be_retried(store, study_id):
    run = store.claim_next_run(study_id, "w")
    store.fail_run(run.id, "Traceback ...\nRuntimeError: out of memory")
    failed = store.run(run.id)
    assert failed.status == "failed" and failed.error.endswith("out of memory")
    assert store.claim_next_run(study_id, "w").id != run.id  # failed runs are not retried
    assert store.retry_failed(study_id) == 1
    assert store.run(run.id).status == "pending"


def test_reset_running_returns_every_running_run_to_pending(store, study_id):
    run = store.claim_next_run(study_id, "w")
    assert store.reset_running(study_id) == 1
    assert store.run(run.id).status == "pending"


def test_a_live_workers_claim_is_not_released(store, study_id):
    run = store.claim_next_run(study_id, "w")  # this process is alive
    assert store.release_dead_claims(study_id) == 0
    assert store.run(run.id).status == "running"


def _claim_in_a_process_that_then_dies(path, study_id):
    """A worker that claims a run and exits without finishing it (as if killed)."""
    code = textwrap.dedent(
        f"""
        from rnnlab.experiments.store import ResultStore
        run = ResultStore({str(path)!r}).claim_next_run({study_id}, "doomed")
        print(run.id)
        """
    )
    return int(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                              text=True).stdout)  # fmt: skip


def test_runs_of_a_dead_worker_are_claimed_again_however_often_it_dies(store, study_id):
    # A kill is not a failure of the run (issue 14): only a run that raised is 'failed'.
    for _ in range(3):  # finish all runs but one
        claimed = store.claim_next_run(study_id, "w")
        store.finish_run(claimed.id, test_accuracy=0.5)
    dead_run = _claim_in_a_process_that_then_dies(store.path, study_id)
    assert store.run(dead_run).status == "running"
    again = store.claim_next_run(study_id, "survivor")
    assert (again.id, again.attempts, again.worker) == (dead_run, 2, "survivor")
    store.reset_running(study_id)
    for _ in range(3):  # six deaths in all, twice the old limit of three attempts
        assert _claim_in_a_process_that_then_dies(store.path, study_id) == dead_run
        assert store.release_dead_claims(study_id) == 1
        assert store.run(dead_run).status == "pending"
    claimed = store.claim_next_run(study_id, "w")
    assert (claimed.id, claimed.status, claimed.error) == (dead_run, "running", None)


def test_released_claims_are_pending_again_and_not_counted_as_attempts(store, study_id):
    claimed = store.claim_next_run(study_id, "w")
    assert store.release_claims(study_id) == 1
    again = store.claim_next_run(study_id, "w")
    assert (again.id, again.attempts) == (claimed.id, 1)
    store.finish_run(again.id, test_accuracy=0.5)
    assert store.release_claims(study_id) == 0  # too late: a finished run stays done
    assert store.run(again.id).status == "done"


def test_a_write_interrupted_mid_transaction_does_not_block_releasing_claims(store, study_id):
    # Ctrl-C reached a worker between BEGIN IMMEDIATE and the write's try block: its
    # transaction stayed open and release_claims failed with "cannot start a transaction
    # within a transaction" (seen in the parallel Ctrl-C test).
    store.claim_next_run(study_id, "w")
    store._connection().execute("BEGIN IMMEDIATE")  # what the interrupted write left open
    assert store.release_claims(study_id) == 1
    store._connection().execute("BEGIN")
    assert len(store.runs(study_id)) > 0  # a read after it works too


def test_retry_failed_brings_back_a_run_abandoned_by_an_older_rnnlab(store, study_id):
    claimed = store.claim_next_run(study_id, "w")
    store.fail_run(claimed.id, "abandoned after 3 attempts: its worker died while running it")
    assert store.retry_failed(study_id) == 1
    assert store.run(claimed.id).status == "pending"


def test_a_pickled_store_reopens_by_path(store, study_id):
    copy = pickle.loads(pickle.dumps(store))
    assert copy.path == store.path
    assert [run.id for run in copy.runs(study_id)] == [run.id for run in store.runs(study_id)]
    copy.close()
