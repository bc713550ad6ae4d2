"""The result store: studies, runs and per-epoch metrics in one SQLite file.

Made for a runner with parallel worker processes::

    store = ResultStore("studies/quick/results.sqlite")
    study_id = store.ensure_study("seed002", study_config)
    store.add_runs(study_id, specs)               # idempotent: safe on every invocation
    # in each worker process (a ResultStore may be pickled to it, or opened by path):
    while (run := store.claim_next_run(study_id, worker="worker-1")) is not None:
        start = run.last_epoch or 0               # > 0 when resuming an interrupted run
        ...                                       # load the checkpoint of epoch `start`
        store.discard_epochs_after(run.id, start) # forget epochs the checkpoint lacks
        for epoch in range(start + 1, epochs + 1):
            ...                                   # train, save the checkpoint atomically
            store.record_epoch(run.id, metrics, checkpoint_path=path)
        store.finish_run(run.id, test_accuracy=..., test_loss=...)
        # or, on an exception: store.fail_run(run.id, traceback_text)

Every write is one ``BEGIN IMMEDIATE`` transaction, so a process killed at any moment
leaves the file consistent, and two workers never claim the same run.

Reclaiming runs of dead workers: a claim records host, pid and process start time.
``claim_next_run`` first returns to 'pending' every 'running' run whose worker on *this
host* no longer exists (or is a zombie, or whose pid now belongs to a newer process),
so re-running ``compare`` after a crash or a kill resumes by itself, even while other
invocations are still working on the same store. A kill is not a failure of the
run: however often its worker dies, the run goes back to 'pending' (only a run whose
training raised is 'failed'), and :meth:`ResultStore.release_claims` gives runs back
at once when a worker stops on purpose (Ctrl-C). Runs claimed on another host
cannot be checked; :meth:`ResultStore.reset_running` returns
them (or all running runs) to 'pending' when the caller knows nobody works on them.

This module does not import torch, so reports and tools can read results cheaply.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from .claims import claim_next_pending, release_dead_claims, release_own_claims
from .store_connection import StoreConnection, StoreDamagedError
from .store_records import (
    EPOCH_METRIC_NAMES,
    RUN_STATUSES,
    EpochMetrics,
    EpochRow,
    RunRow,
    RunSpec,
    RunStatus,
    StudyRow,
    canonical_json,
    check_metric,
    epoch_values,
)
from .store_schema import RUN_SELECT, run_row_from, utc_now
from .study_growth import changed_keys

__all__ = [
    "DataChangedError", "EpochMetrics", "EpochRow", "ResultStore", "RunRow", "RunSpec",
    "StoreDamagedError", "StudyRow",
]  # fmt: skip


class DataChangedError(ValueError):
    """The data of a study is not what its first runs trained on."""


class ResultStore(StoreConnection):
    """A SQLite result store at ``path`` (created with its tables if missing).

    One connection per process: the store reopens it after a fork, and pickles as its
    path, so the same object can be handed to ``multiprocessing`` workers.
    """

    # -- studies --------------------------------------------------------------------

    def ensure_study(
        self, name: str, config: Mapping[str, Any] | Any, *, replace_config: bool = False,
        grow: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
    ) -> int:
        """Create study ``name`` or return the id of the existing one.

        ``grow(stored, given)`` returns the config to store when the given one differs (the
        runner's is :func:`~rnnlab.experiments.study_growth.grow_study_config`: more runs,
        arrangements or conditions), or raises ValueError naming what may not change; it
        runs inside the write transaction, so two processes growing one study both land.

        Raises:
            ValueError: if a study of that name exists with a different config that
                ``grow`` refuses (or there is no ``grow``), unless ``replace_config`` (then
                the stored study config is updated; each run keeps the resolved config it
                was added with).
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"study name must be a non-empty str, got {name!r}")
        config_json = canonical_json(config, "study config")
        with self._write() as connection:
            row = connection.execute(
                "SELECT id, config_json FROM studies WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                cursor = connection.execute(
                    "INSERT INTO studies (name, config_json, created_at) VALUES (?, ?, ?)",
                    (name, config_json, utc_now()),
                )
                return int(cursor.lastrowid)  # type: ignore[arg-type]
            if row["config_json"] != config_json and not replace_config:
                stored, given = json.loads(row["config_json"]), json.loads(config_json)
                try:
                    if grow is None:
                        raise ValueError(changed_keys(stored, given))
                    config_json = canonical_json(grow(stored, given), "study config")
                except ValueError as error:
                    raise self.different_config_error(name, str(error)) from None
            if row["config_json"] != config_json:
                connection.execute(
                    "UPDATE studies SET config_json = ? WHERE id = ?", (config_json, row["id"])
                )
            return int(row["id"])

    def different_config_error(self, name: str, changes: str) -> ValueError:
        """The refusal of study ``name`` with another config (``changes`` says what changed),
        with the fixes a CLI user can apply."""
        return ValueError(
            f"study {name!r} already exists in {self._path} with a different config: "
            f"{changes}. To resume it, run it with the settings it was started with (rnnlab "
            "compare: the same --study/--profile, --epochs and --data; more --runs or other "
            "--arrangements add runs); to run the changed study, give it its own directory "
            "(--out) or name. (Python: ensure_study(..., replace_config=True) overwrites the "
            "stored config.)")

    def check_data(self, study_id: int, dataset: str, fingerprint: str | None = None, *,
                   parts: Mapping[str, str] | None = None) -> None:
        """Record the fingerprint of the study's data the first time; refuse another later.

        Otherwise a data file edited in place (same path, same vocabulary) would let later
        runs train on new data and the report mix them with runs trained on the old.

        ``parts`` (``{dataset name: fingerprint}``, a toy study's lengths) makes the record
        a union of named datasets: each dataset both sides name must be unchanged, a new one
        is added to the record (a study grown by another T), and one the invocation does not
        prepare keeps its record. Give ``fingerprint`` or ``parts``, not both.

        Raises:
            DataChangedError: if the study was started on data with another fingerprint
                (with ``parts``: if a dataset it has already met has another one).
            TypeError: given both ``fingerprint`` and ``parts``, or neither.
        """
        if (fingerprint is None) == (parts is None):
            raise TypeError("check_data takes a fingerprint or parts (a toy study's lengths), "
                            "exactly one")
        with self._write() as connection:
            row = connection.execute(
                "SELECT s.name, d.dataset, d.fingerprint, d.recorded_at FROM studies s "
                "LEFT JOIN study_data d ON d.study_id = s.id WHERE s.id = ?", (study_id,)
            ).fetchone()
            if row is None:
                raise LookupError(f"no study with id {study_id} in {self._path}")
            stored = row["fingerprint"]
            if parts is not None:
                fingerprint = joined_parts(_merged_parts(row, dataset, parts, self._path))
            elif stored is not None and stored != fingerprint:
                raise DataChangedError(
                    f"the data of study {row['name']!r} changed: {dataset} now has fingerprint "
                    f"{fingerprint}, but the study started on {row['dataset']} with "
                    f"fingerprint {stored} ({row['recorded_at']}), so new runs "
                    "would be mixed with old ones. Use a new study name for the new data (or "
                    f"another --out directory), or restore the original file; {self._path} "
                    "is unchanged"
                )
            if stored is None:
                connection.execute(
                    "INSERT INTO study_data (study_id, dataset, fingerprint, recorded_at) "
                    "VALUES (?, ?, ?, ?)", (study_id, dataset, fingerprint, utc_now()))
            elif stored != fingerprint:  # a named dataset added (parts)
                connection.execute("UPDATE study_data SET fingerprint = ? WHERE study_id = ?",
                                   (fingerprint, study_id))

    def check_artifacts(self, study_id: int, artifacts: Mapping[str, tuple[str, str]]) -> None:
        """Record each pretrained artifact's fingerprint the first time the study meets it
        (``artifacts``: ``{key: (path, fingerprint)}``, see :mod:`.artifacts`); refuse a
        different one later, as :meth:`check_data` does for the data.

        Raises:
            DataChangedError: naming the key, the path, both fingerprints and the fix.
        """
        if not artifacts:
            return
        with self._write() as connection:
            study = connection.execute("SELECT name FROM studies WHERE id = ?",
                                       (study_id,)).fetchone()
            if study is None:
                raise LookupError(f"no study with id {study_id} in {self._path}")
            for key, (path, fingerprint) in sorted(artifacts.items()):
                row = connection.execute(
                    "SELECT path, fingerprint, recorded_at FROM study_artifacts "
                    "WHERE study_id = ? AND key = ?", (study_id, key)).fetchone()
                if row is None:
                    connection.execute(
                        "INSERT INTO study_artifacts (study_id, key, path, fingerprint, "
                        "recorded_at) VALUES (?, ?, ?, ?, ?)",
                        (study_id, key, path, fingerprint, utc_now()))
                elif row["fingerprint"] != fingerprint:
                    raise DataChangedError(
                        f"{key}: {path!r} changed since study {study['name']!r} first read "
                        f"it (fingerprint {row['fingerprint']} at {row['recorded_at']}, now "
                        f"{fingerprint}), so new runs of that condition would be paired with "
                        "runs trained on the old one. Restore the original, or give the new "
                        f"one another path in a new study (another name or --out); "
                        f"{self._path} is unchanged")

    def study(self, name: str) -> StudyRow:
        """The study called ``name``; LookupError listing the stored names if absent."""
        row = self._connection().execute("SELECT * FROM studies WHERE name = ?", (name,)).fetchone()
        if row is None:
            names = [study.name for study in self.studies()]
            raise LookupError(f"no study {name!r} in {self._path}; stored studies: {names}")
        return StudyRow(**dict(row))

    def studies(self) -> list[StudyRow]:
        rows = self._connection().execute("SELECT * FROM studies ORDER BY id").fetchall()
        return [StudyRow(**dict(row)) for row in rows]

    # -- runs: adding and claiming --------------------------------------------------

    def add_runs(self, study_id: int, specs: Iterable[RunSpec]) -> tuple[int, ...]:
        """Add the runs a study wants; existing ones are kept as they are (idempotent).

        Returns the run ids in the order of ``specs``.

        Raises:
            ValueError: if a run with the same key exists with a different seed or
                config (re-running a study must not silently change what it measures).
        """
        run_ids = []
        with self._write() as connection:
            for spec in specs:
                config_json = canonical_json(spec.config, f"config of run {spec}")
                key = (study_id, spec.arrangement, spec.run_index, int(spec.masked), spec.dataset)
                connection.execute(
                    "INSERT INTO runs (study_id, arrangement, run_index, masked, dataset, seed, "
                    "config_json) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (*key, spec.seed, config_json),
                )
                row = connection.execute(
                    "SELECT id, seed, config_json FROM runs WHERE study_id = ? AND "
                    "arrangement = ? AND run_index = ? AND masked = ? AND dataset = ?",
                    key,
                ).fetchone()
                if row["seed"] != spec.seed or row["config_json"] != config_json:
                    raise ValueError(
                        f"run {spec.arrangement} #{spec.run_index} (dataset {spec.dataset!r}, "
                        f"masked={spec.masked}) is already stored with seed {row['seed']} and "
                        f"config {row['config_json']}, not seed {spec.seed} and config "
                        f"{config_json}; start a new study to change them"
                    )
                run_ids.append(int(row["id"]))
        return tuple(run_ids)

    def claim_next_run(self, study_id: int, worker: str,
                       only: Collection[int] | None = None) -> RunRow | None:
        """Atomically take the next pending run (lowest run index first) for ``worker``,
        among the run ids ``only`` when given (the runs this invocation asked for).

        Returns None when nothing is pending. Before choosing, runs held by dead workers
        on this host are released (see the module docstring). Lowest run index first, so
        complete pairs across arrangements exist as early as possible.
        """
        with self._write() as connection:
            release_dead_claims(connection, study_id)
            return claim_next_pending(connection, study_id, worker, only)

    def release_dead_claims(self, study_id: int) -> int:
        """Release runs whose worker on this host died; returns how many."""
        with self._write() as connection:
            return release_dead_claims(connection, study_id)

    def release_claims(self, study_id: int) -> int:
        """Give back the runs this process claimed and will not finish (it stops, e.g. on
        Ctrl-C): 'pending' again, the claims not counted as attempts. Returns how many
        (runs that are done, failed or not this process's are left alone)."""
        with self._write() as connection:
            return release_own_claims(connection, study_id)

    def reset_running(self, study_id: int) -> int:
        """Return every 'running' run to 'pending' (only when no worker is active,
        e.g. runs claimed on another host that crashed); returns how many."""
        with self._write() as connection:
            cursor = connection.execute(
                "UPDATE runs SET status = 'pending' WHERE study_id = ? AND status = 'running'",
                (study_id,),
            )
            return cursor.rowcount

    def retry_failed(self, study_id: int) -> int:
        """Return every 'failed' run to 'pending' (those that raised, and those an older
        rnnlab abandoned after its worker died), keeping its recorded epochs; its attempt
        count restarts at 0."""
        with self._write() as connection:
            cursor = connection.execute(
                "UPDATE runs SET status = 'pending', attempts = 0 "
                "WHERE study_id = ? AND status = 'failed'",
                (study_id,),
            )
            return cursor.rowcount

    # -- runs: recording -------------------------------------------------------------

    def _require_running(self, connection: sqlite3.Connection, run_id: int) -> sqlite3.Row:
        row = connection.execute(
            "SELECT status, started_at FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise LookupError(f"no run with id {run_id} in {self._path}")
        if row["status"] != "running":
            raise ValueError(
                f"run {run_id} is {row['status']!r}, not 'running'; claim it with "
                "claim_next_run before recording results"
            )
        return row

    def record_epoch(
        self,
        run_id: int,
        metrics: EpochMetrics | Mapping[str, Any],
        *,
        checkpoint_path: str | os.PathLike[str] | None = None,
    ) -> None:
        """Insert or replace the metrics of one epoch (re-recording an epoch after a
        resume overwrites it), and the checkpoint that holds it, in one transaction."""
        if not isinstance(metrics, EpochMetrics):
            metrics = EpochMetrics.from_dict(metrics)
        values = epoch_values(metrics)  # validated before the transaction starts
        columns = ", ".join(EPOCH_METRIC_NAMES)
        updates = ", ".join(f"{name} = excluded.{name}" for name in EPOCH_METRIC_NAMES)
        with self._write() as connection:
            self._require_running(connection, run_id)
            connection.execute(
                f"INSERT INTO epochs (run_id, epoch, {columns}, recorded_at) "
                f"VALUES (?, ?, {', '.join('?' * len(EPOCH_METRIC_NAMES))}, ?) "
                f"ON CONFLICT (run_id, epoch) DO UPDATE SET {updates}, "
                "recorded_at = excluded.recorded_at",
                (run_id, metrics.epoch, *values, utc_now()),
            )
            if checkpoint_path is not None:
                connection.execute(
                    "UPDATE runs SET checkpoint_path = ? WHERE id = ?",
                    (os.fspath(checkpoint_path), run_id),
                )

    def discard_epochs_after(self, run_id: int, epoch: int) -> int:
        """Delete epochs > ``epoch`` of a run (those its checkpoint does not contain,
        before training them again); returns how many were deleted."""
        with self._write() as connection:
            self._require_running(connection, run_id)
            cursor = connection.execute(
                "DELETE FROM epochs WHERE run_id = ? AND epoch > ?", (run_id, epoch)
            )
            return cursor.rowcount

    def finish_run(
        self,
        run_id: int,
        *,
        test_accuracy: float,
        test_loss: float | None = None,
        wall_seconds: float | None = None,
        checkpoint_path: str | os.PathLike[str] | None = None,
    ) -> None:
        """Mark a run done with its final test metrics.

        ``wall_seconds`` defaults to the time since the run was last claimed (the
        current attempt); a runner that resumes may pass the total instead.
        """
        check_metric("test_accuracy", test_accuracy)
        if test_loss is not None:
            check_metric("test_loss", test_loss)
        finished_at = utc_now()
        with self._write() as connection:
            row = self._require_running(connection, run_id)
            if wall_seconds is None:
                started = datetime.fromisoformat(row["started_at"])
                wall_seconds = (datetime.fromisoformat(finished_at) - started).total_seconds()
            connection.execute(
                "UPDATE runs SET status = 'done', finished_at = ?, wall_seconds = ?, "
                "test_accuracy = ?, test_loss = ?, error = NULL, "
                "checkpoint_path = COALESCE(?, checkpoint_path) WHERE id = ?",
                (
                    finished_at,
                    float(wall_seconds),
                    float(test_accuracy),
                    test_loss,
                    None if checkpoint_path is None else os.fspath(checkpoint_path),
                    run_id,
                ),
            )

    def fail_run(self, run_id: int, error: str) -> None:
        """Mark a run failed with the error text (e.g. a traceback) for the report."""
        with self._write() as connection:
            self._require_running(connection, run_id)
            connection.execute(
                "UPDATE runs SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
                (utc_now(), str(error), run_id),
            )

    # -- readers -----------------------------------------------------------------------

    def run(self, run_id: int) -> RunRow:
        row = self._connection().execute(f"{RUN_SELECT} WHERE r.id = ?", (run_id,)).fetchone()
        if row is None:
            raise LookupError(f"no run with id {run_id} in {self._path}")
        return run_row_from(row)

    def runs(self, study_id: int, *, status: RunStatus | None = None) -> list[RunRow]:
        """Runs of a study in the order they were added (optionally only one status)."""
        if status is not None and status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {RUN_STATUSES}, got {status!r}")
        query = f"{RUN_SELECT} WHERE r.study_id = ?"
        parameters: tuple[Any, ...] = (study_id,)
        if status is not None:
            query += " AND r.status = ?"
            parameters += (status,)
        rows = self._connection().execute(f"{query} ORDER BY r.id", parameters).fetchall()
        return [run_row_from(row) for row in rows]

    def epochs(self, run_id: int) -> list[EpochRow]:
        rows = (
            self._connection()
            .execute("SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,))
            .fetchall()
        )
        return [EpochRow(**dict(row)) for row in rows]

    def study_epochs(self, study_id: int) -> list[EpochRow]:
        """All epochs of all runs of a study, ordered by run id then epoch."""
        rows = (
            self._connection()
            .execute(
                "SELECT e.* FROM epochs e JOIN runs r ON r.id = e.run_id WHERE r.study_id = ? "
                "ORDER BY e.run_id, e.epoch",
                (study_id,),
            )
            .fetchall()
        )
        return [EpochRow(**dict(row)) for row in rows]

    def snapshot(self, study_id: int) -> tuple[list[RunRow], list[EpochRow]]:
        """Runs and epochs of a study read in one transaction (consistent with each other)."""
        with self._read():
            return self.runs(study_id), self.study_epochs(study_id)

    def status_counts(self, study_id: int) -> dict[str, int]:
        """How many runs are in each status (all four keys present), for progress output."""
        counts = dict.fromkeys(RUN_STATUSES, 0)
        rows = (
            self._connection()
            .execute(
                "SELECT status, COUNT(*) AS n FROM runs WHERE study_id = ? GROUP BY status",
                (study_id,),
            )
            .fetchall()
        )
        counts.update({row["status"]: row["n"] for row in rows})
        return counts


def joined_parts(parts: Mapping[str, str]) -> str:
    """``"adding-T5:ab12…,adding-T7:cd34…"``: named fingerprints as one, by name."""
    return ",".join(f"{name}:{value}" for name, value in sorted(parts.items()))


def _split_parts(joined: str) -> dict[str, str]:
    return dict(item.rsplit(":", 1) for item in joined.split(",") if ":" in item)


def _merged_parts(row: Any, dataset: str, parts: Mapping[str, str],
                  path: Path) -> dict[str, str]:
    """The stored named fingerprints with ``parts`` added; refuse a changed one."""
    stored = {} if row["fingerprint"] is None else _split_parts(row["fingerprint"])
    for name in sorted(stored.keys() & parts.keys()):
        if stored[name] != parts[name]:
            raise DataChangedError(
                f"the data of study {row['name']!r} changed: {name} ({dataset}) now has "
                f"fingerprint {parts[name]}, but the study's runs of it were trained on "
                f"fingerprint {stored[name]} ({row['recorded_at']}), so new runs would be "
                "mixed with old ones. Use a new study name (or another --out directory) for "
                f"the changed data, or restore its settings; {path} is unchanged")
    return {**stored, **parts}
