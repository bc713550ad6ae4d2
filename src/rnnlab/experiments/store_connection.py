"""One SQLite connection per process, and the transactions every store call runs in."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .store_schema import connect, create_schema

__all__ = ["StoreConnection", "StoreDamagedError", "damaged_store_error"]


class StoreDamagedError(ValueError):
    """The result store file is not a readable store (truncated, overwritten, a directory)."""


def damaged_store_error(path: Path, detail: object) -> StoreDamagedError:
    """The error for a damaged store at ``path``: what happened and how to rebuild it."""
    return StoreDamagedError(
        f"result store {path} is damaged and cannot be read ({detail}); rebuild it from the "
        f"run checkpoints in {path.parent / 'runs'} with `rnnlab compare --rebuild-store` "
        f"and the same --study/--profile and --out (the damaged file is moved aside to "
        f"{path.name}.damaged-<timestamp>)"
    )


def is_damage(error: sqlite3.DatabaseError) -> bool:
    """Whether an SQLite error means a bad file, not a busy one (locks are retried)."""
    text = str(error).lower()
    return not any(word in text for word in ("locked", "busy", "interrupted"))


class StoreConnection:
    """Owns the path and the calling process's connection to a result store.

    A connection inherited through ``fork`` must not be used by the child, so the
    connection is reopened whenever the pid changes; pickling keeps only the path, so
    a store object can be handed to ``multiprocessing`` workers (fork or spawn).
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_seconds: float = 60.0):
        self._path = Path(path)
        self._busy_timeout_seconds = busy_timeout_seconds
        self._connection_pid: int | None = None
        self._cached_connection: sqlite3.Connection | None = None
        if self._path.is_dir():
            raise damaged_store_error(self._path, "it is a directory, not an SQLite file")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = self._connection()
            # quick_check reads every page (milliseconds for a study's few thousand rows),
            # so a damaged file is refused here, not by some later query half-way through.
            problem = connection.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise sqlite3.DatabaseError(problem)
            create_schema(connection, self._path)
        except sqlite3.DatabaseError as error:
            self.close()
            if not is_damage(error):
                raise
            raise damaged_store_error(self._path, error) from None

    @property
    def path(self) -> Path:
        return self._path

    def _connection(self) -> sqlite3.Connection:
        if self._cached_connection is None or self._connection_pid != os.getpid():
            self._cached_connection = connect(self._path, self._busy_timeout_seconds)
            self._connection_pid = os.getpid()
        return self._cached_connection

    def close(self) -> None:
        """Close this process's connection (a later call reopens it)."""
        if self._cached_connection is not None and self._connection_pid == os.getpid():
            self._cached_connection.close()
        self._cached_connection = None

    def __enter__(self) -> StoreConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self._path, "busy_timeout_seconds": self._busy_timeout_seconds}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # The schema exists already (the pickled store created it); connect lazily.
        self._path = state["path"]
        self._busy_timeout_seconds = state["busy_timeout_seconds"]
        self._connection_pid = None
        self._cached_connection = None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. IMMEDIATE takes the write lock up front, so concurrent
        writers queue on the busy timeout instead of failing halfway through."""
        connection = _without_open_transaction(self._connection())
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            # Ctrl-C can land anywhere here, BEGIN and COMMIT included: end what is open.
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: several SELECTs see the same snapshot (WAL)."""
        connection = _without_open_transaction(self._connection())
        try:
            connection.execute("BEGIN")
            yield connection
        finally:
            if connection.in_transaction:
                connection.execute("COMMIT")


def _without_open_transaction(connection: sqlite3.Connection) -> sqlite3.Connection:
    """``connection`` with no transaction left open by an interrupted earlier one.

    A KeyboardInterrupt between ``BEGIN`` and the ``try`` of a transaction (or inside
    ``COMMIT``) can leave one open; the next ``BEGIN`` would then fail with "cannot start a
    transaction within a transaction" — seen when Ctrl-C reached a worker mid-write and it
    went on to release its claims.
    """
    if connection.in_transaction:
        connection.rollback()
    return connection
