"""One writer per run directory: ``RUN_DIR/run.lock``, held while a run trains.

Two processes training into one directory (two shells, or ``torchrun`` launching copies that
do not form a process group) would overwrite each other's checkpoints. The second one is
refused with the pid and host of the first::

    with run_lock(Path("runs/x")):      # RunLockedError (a ValueError) if another holds it
        ...                             # train, checkpoint

The lock is an exclusive ``flock`` on the file, held by the kernel for the open file: a
process killed with SIGKILL loses it at once, so its stale ``run.lock`` is detected (nobody
holds a lock on it; the pid it names is gone) and taken over, with no pid-reuse race. The
file is deleted on a normal exit. In a process group only rank 0 writes, so only it locks.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

LOCK_FILE = "run.lock"


class RunLockedError(ValueError):
    """Another live process is writing the run directory."""


def _holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return (f"pid {holder['pid']} on {holder['host']} (since {holder['since']}, "
                f"command {holder['command']!r})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (starting up)"


def _open_locked(path: Path) -> int | None:
    """A descriptor of ``path`` holding its exclusive lock, or None if another holds it."""
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return None
        # The holder deletes the file on release; if it did so between our open and our
        # flock, we locked a deleted file: open the new one instead.
        try:
            same = os.stat(path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return descriptor
        os.close(descriptor)


@contextmanager
def run_lock(run_dir: str | os.PathLike[str], option: str = "--out") -> Iterator[Path]:
    """Hold ``run_dir``'s lock for the block (the directory is created if missing, and
    removed again if the block leaves it empty). ``option`` names the argument in errors."""
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    descriptor = _open_locked(path)
    if descriptor is None:
        if created:
            _remove_if_empty(run_dir)
        raise RunLockedError(
            f"{option} {str(run_dir)!r} is being written by {_holder(path)}: wait for that "
            f"run to finish (or stop it), or choose another {option}. To train one run on "
            "several processes, launch them with torchrun, which makes rank 0 the only writer")
    try:
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "command": " ".join(sys.argv)[:200]}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(record).encode(), 0)
        yield path
    finally:
        # Deleted while still locked, so a waiting process never locks a file we then delete.
        path.unlink(missing_ok=True)
        os.close(descriptor)
        if created:
            _remove_if_empty(run_dir)


def _remove_if_empty(run_dir: Path) -> None:
    """Leave nothing behind for a run refused before it wrote anything."""
    with suppress(OSError):  # not empty (the run wrote files), or gone
        run_dir.rmdir()
