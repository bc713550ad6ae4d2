"""One SQLite connection per process, and the transactions every store call runs in."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .store_schema import connect, create_schema

__all__ = ["StoreConnection"]


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
        self._path.parent.mkdir(parents=True, exist_ok=True)
        create_schema(self._connection(), self._path)

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
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: several SELECTs see the same snapshot (WAL)."""
        connection = self._connection()
        connection.execute("BEGIN")
        try:
            yield connection
        finally:
            connection.execute("COMMIT")
