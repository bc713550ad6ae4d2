"""Who holds a claimed run, and whether that process is still alive.

A claim records the host, the pid and the process start time. The start time guards
against pid reuse: after a worker dies, the kernel may hand its pid to an unrelated
process, which must not keep the dead worker's run "running" forever.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WorkerIdentity", "current_worker", "is_alive_on_this_host"]


@dataclass(frozen=True)
class WorkerIdentity:
    host: str
    pid: int
    start_token: str | None  # the process start time in clock ticks since boot (Linux)


def _proc_stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None if unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    return stat[stat.rindex(")") + 2 :].split()


def _start_token(pid: int) -> str | None:
    fields = _proc_stat_fields(pid)
    # Field 22 of proc(5) is starttime; fields[0] here is field 3 (state).
    return fields[19] if fields is not None and len(fields) > 19 else None


def current_worker() -> WorkerIdentity:
    """The identity of the calling process."""
    pid = os.getpid()
    return WorkerIdentity(host=socket.gethostname(), pid=pid, start_token=_start_token(pid))


def is_alive_on_this_host(pid: int, start_token: str | None) -> bool:
    """Whether process ``pid`` (started at ``start_token``) still runs on this host.

    A zombie (killed but not yet reaped by its parent) counts as dead: it will never
    write again.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user; /proc below still tells us more
    fields = _proc_stat_fields(pid)
    if fields is None:
        # Without /proc (not Linux) os.kill above is all we know: alive. With /proc,
        # a missing entry means the process exited between the two checks.
        return not Path("/proc").is_dir()
    if fields[0] == "Z":
        return False
    return start_token is None or len(fields) <= 19 or fields[19] == start_token
