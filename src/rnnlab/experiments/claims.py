"""How a worker takes a run, and how runs of dead workers become claimable again.

Both functions run inside the caller's ``BEGIN IMMEDIATE`` transaction, which holds
the database write lock: between choosing a pending run and marking it 'running' no
other process can write, so two workers never take the same run.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection

from .run_cost import run_cost
from .store_records import RunRow
from .store_schema import RUN_SELECT, run_row_from, utc_now
from .worker_identity import current_worker, is_alive_on_this_host

__all__ = ["claim_next_pending", "release_dead_claims", "release_own_claims"]


def claim_next_pending(connection: sqlite3.Connection, study_id: int, worker: str,
                       only: Collection[int] | None = None) -> RunRow | None:
    """Mark a pending run of the lowest run_index as 'running' for ``worker``: the dearest
    of them (see :mod:`.run_cost`), the lowest id among equals; only runs whose id is in
    ``only`` when given.

    Run 0 of every condition still comes before any run 1 (a partial study covers every
    condition); within a run index the long runs go first, so the workers finish together.
    """
    rows = connection.execute(
        "SELECT id, run_index, config_json FROM runs WHERE study_id = ? AND "
        "status = 'pending' ORDER BY id", (study_id,)
    ).fetchall()
    if only is not None:
        wanted = set(only)
        rows = [row for row in rows if row["id"] in wanted]
    if not rows:
        return None
    first_index = min(row["run_index"] for row in rows)
    rows = [row for row in rows if row["run_index"] == first_index]
    row = max(rows, key=lambda r: (run_cost(json.loads(r["config_json"])), -r["id"]))
    me = current_worker()
    connection.execute(
        "UPDATE runs SET status = 'running', attempts = attempts + 1, worker = ?, "
        "worker_host = ?, worker_pid = ?, worker_token = ?, started_at = ?, "
        "finished_at = NULL, wall_seconds = NULL, error = NULL WHERE id = ?",
        (worker, me.host, me.pid, me.start_token, utc_now(), row["id"]),
    )
    claimed = connection.execute(f"{RUN_SELECT} WHERE r.id = ?", (row["id"],)).fetchone()
    return run_row_from(claimed)


def release_dead_claims(connection: sqlite3.Connection, study_id: int) -> int:
    """Return 'running' runs whose worker on this host is gone to 'pending'.

    However often it happens: a killed worker (SIGKILL, a crash of the machine, Ctrl-C
    before the claim was released) says nothing about the run, which resumes from its
    last checkpoint; only a run whose training raised is 'failed'. Runs claimed on other
    hosts are left alone: their pids mean nothing here. Returns how many were released.
    """
    host = current_worker().host
    running = connection.execute(
        "SELECT id, worker_pid, worker_token FROM runs "
        "WHERE study_id = ? AND status = 'running' AND worker_host = ?",
        (study_id, host),
    ).fetchall()
    released = 0
    for run in running:
        if run["worker_pid"] is None or is_alive_on_this_host(
            run["worker_pid"], run["worker_token"]
        ):
            continue
        connection.execute("UPDATE runs SET status = 'pending' WHERE id = ?", (run["id"],))
        released += 1
    return released


def release_own_claims(connection: sqlite3.Connection, study_id: int) -> int:
    """Give back every run of the study this process claimed and did not finish (e.g. on
    Ctrl-C, which may land anywhere, even between a claim and the training it starts).

    The runs become 'pending' and the claims are not counted as attempts. Runs no longer
    this process's (finished, failed, or reclaimed) are left as they are.
    """
    me = current_worker()
    cursor = connection.execute(
        "UPDATE runs SET status = 'pending', attempts = MAX(attempts - 1, 0), worker = NULL, "
        "worker_host = NULL, worker_pid = NULL, worker_token = NULL WHERE study_id = ? AND "
        "status = 'running' AND worker_host = ? AND worker_pid = ? AND worker_token IS ?",
        (study_id, me.host, me.pid, me.start_token),
    )
    return cursor.rowcount
