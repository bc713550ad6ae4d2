"""SQLite schema of the result store, and opening a connection with the right settings.

::

    studies 1───* runs 1───* epochs
    (name unique)  (study, arrangement,   (run, epoch) unique
       │            run_index, masked,
       │            dataset) unique
       1───1 study_data (the fingerprint of the data the study trains on)
       1───* study_artifacts (the fingerprints of the pretrained files its runs read)
"""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from .store_records import RunRow

__all__ = ["RUN_SELECT", "SCHEMA_VERSION", "connect", "create_schema", "run_row_from", "utc_now"]

# Bumped when a table changes; a store written by a newer rnnlab is refused, not misread.
# (Adding a table, as study_data and study_artifacts were, keeps the version: older readers
# ignore it.)
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    config_json TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id              INTEGER PRIMARY KEY,
    study_id        INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    arrangement     TEXT NOT NULL,
    run_index       INTEGER NOT NULL CHECK (run_index >= 0),
    seed            INTEGER NOT NULL,
    dataset         TEXT NOT NULL,
    masked          INTEGER NOT NULL CHECK (masked IN (0, 1)),
    config_json     TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    worker          TEXT,
    worker_host     TEXT,
    worker_pid      INTEGER,
    worker_token    TEXT,
    started_at      TEXT,
    finished_at     TEXT,
    wall_seconds    REAL,
    checkpoint_path TEXT,
    error           TEXT,
    test_accuracy   REAL CHECK (test_accuracy BETWEEN 0 AND 1),
    test_loss       REAL,
    UNIQUE (study_id, arrangement, run_index, masked, dataset)
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (study_id, status, run_index);
CREATE TABLE IF NOT EXISTS epochs (
    run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch          INTEGER NOT NULL CHECK (epoch >= 0),
    train_loss     REAL,
    train_accuracy REAL CHECK (train_accuracy BETWEEN 0 AND 1),
    valid_loss     REAL,
    valid_accuracy REAL CHECK (valid_accuracy BETWEEN 0 AND 1),
    test_loss      REAL,
    test_accuracy  REAL CHECK (test_accuracy BETWEEN 0 AND 1),
    seconds        REAL,
    recorded_at    TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS study_data (
    study_id    INTEGER PRIMARY KEY REFERENCES studies(id) ON DELETE CASCADE,
    dataset     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS study_artifacts (
    study_id    INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    path        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (study_id, key)
);
"""


def connect(path: Path, busy_timeout_seconds: float) -> sqlite3.Connection:
    """Open ``path`` in autocommit mode (we issue BEGIN/COMMIT ourselves), WAL journal.

    WAL lets readers (a report) read while a worker writes. ``synchronous=NORMAL`` in
    WAL mode never corrupts the file and loses no committed transaction when a
    *process* is killed; only a power cut may drop the last few commits.
    """
    connection = sqlite3.connect(path, timeout=busy_timeout_seconds, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
    journal_mode = _switch_to_wal(connection, busy_timeout_seconds)
    if journal_mode != "wal":
        raise RuntimeError(
            f"result store {path} cannot use SQLite's WAL journal (got {journal_mode!r}); "
            "put the store on a local disk (network file systems often lack WAL support)"
        )
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def _switch_to_wal(connection: sqlite3.Connection, busy_timeout_seconds: float) -> str:
    """Set WAL mode, retrying while another process holds the lock.

    Converting a new database to WAL needs an exclusive lock and SQLite reports
    "database is locked" at once instead of waiting on the busy timeout, which happens
    when several workers open a fresh store at the same moment.
    """
    deadline = time.monotonic() + busy_timeout_seconds
    while True:
        try:
            return str(connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def create_schema(connection: sqlite3.Connection, path: Path) -> None:
    """Create the tables if needed, in one transaction; refuse an unknown schema version."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"result store {path} has schema version {version}, newer than this "
                f"rnnlab's {SCHEMA_VERSION}; upgrade rnnlab to read it"
            )
        # executescript would COMMIT our transaction first, so run the statements one by one.
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string (how the store writes timestamps)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


_RUN_COLUMNS = (
    "id", "study_id", "arrangement", "run_index", "seed", "dataset", "masked", "config_json",
    "status", "attempts", "worker", "worker_host", "worker_pid", "started_at", "finished_at",
    "wall_seconds", "checkpoint_path", "error", "test_accuracy", "test_loss",
)  # fmt: skip
# last_epoch: where a resumed run continues; computed, so it can never disagree with epochs.
RUN_SELECT = (
    f"SELECT {', '.join(f'r.{column}' for column in _RUN_COLUMNS)}, "
    "(SELECT MAX(e.epoch) FROM epochs e WHERE e.run_id = r.id) AS last_epoch FROM runs r"
)


def run_row_from(row: sqlite3.Row) -> RunRow:
    values = dict(row)
    values["masked"] = bool(values["masked"])
    return RunRow(**values)
