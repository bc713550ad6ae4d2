"""Torch threads that follow the machine's free cores, so a busy machine costs ~1.4×, not 4×.

Measured on 2 cores (benchmarks/RESULTS.md §1, "A busy machine"), one LSTM training step at
seed 002's size: 2 threads with OpenMP's default spinning wait 20 ms alone but 79 ms beside one
busy process (the spinning threads fight it for both cores); with OMP_WAIT_POLICY=PASSIVE 35 ms
beside it but 48 ms alone, slower than 1 thread (28 ms), because every small parallel region
then pays a futex wake-up. No fixed policy is good in both cases, so rnnlab keeps OpenMP's
default and changes the thread count instead: while other processes take CPU, torch runs on
the cores they leave free (at least one), and goes back to the requested count once they
have gone.

How: every ``WINDOW`` seconds of wall time, on the main thread, the CPU time the whole machine
spent busy (``/proc/stat``) minus this process's own CPU time (its spinning threads included)
is what other processes took; the free cores are the process's CPUs minus that. Fewer threads
are taken at once (spinning beside another process is the expensive case), more only after
two windows agree. The check runs in a global module forward pre-hook, so every training and
evaluation loop gets it without a call of its own; off the main thread or while compiling it
does nothing.

Where ``/proc/stat`` does not describe this process's CPUs (not Linux, or a container that
shows the host's CPUs), :func:`can_govern` is false and the CLI falls back to
OMP_WAIT_POLICY=PASSIVE (set before torch loads OpenMP). ``RNNLAB_THREAD_GOVERNOR=0`` turns
the governor off.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["CpuSample", "ThreadGovernor", "can_govern", "govern_threads", "governed_threads",
           "read_cpu_sample", "stop_governing", "target_threads"]

WINDOW = 1.0  # seconds between decisions: long enough for /proc/stat's 10 ms ticks
# a core counts as free while others take at most 0.3 of it: beside 2 spinning threads one
# busy process gets ~0.67 of a core, which must count as taken
MARGIN = 0.3
DISABLE_VARIABLE = "RNNLAB_THREAD_GOVERNOR"


class CpuSample(NamedTuple):
    """One reading: wall time, the machine's busy CPU seconds, this process's CPU seconds."""

    wall: float
    machine_busy: float
    own: float


def _proc_stat_cpus() -> int:
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            return sum(1 for line in stat if line.startswith("cpu") and line[3:4].isdigit())
    except OSError:
        return 0


def _process_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_govern() -> bool:
    """Whether ``/proc/stat`` counts exactly this process's CPUs (so its busy time is theirs)."""
    if os.environ.get(DISABLE_VARIABLE, "1") == "0":
        return False
    cpus = _proc_stat_cpus()
    return cpus > 0 and cpus == _process_cpus() == (os.cpu_count() or 0)


def read_cpu_sample(clock: Callable[[], float] = time.monotonic) -> CpuSample:
    """The machine's busy CPU seconds so far (user, nice, system, irq, softirq, steal) and
    this process's (all threads)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = stat.readline().split()[1:]
    ticks = [int(value) for value in fields[:8]]
    busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]  # not idle, iowait
    times = os.times()
    return CpuSample(clock(), busy / os.sysconf("SC_CLK_TCK"), times.user + times.system)


def target_threads(before: CpuSample, after: CpuSample, cpus: int, requested: int) -> int:
    """Threads for the cores other processes left free between two samples, in [1, requested].

    >>> target_threads(CpuSample(0, 0, 0), CpuSample(1, 2.0, 1.0), cpus=2, requested=2)
    1
    """
    wall = after.wall - before.wall
    if wall <= 0:
        return requested
    others = max(0.0, (after.machine_busy - before.machine_busy) - (after.own - before.own))
    free = cpus - others / wall
    return max(1, min(requested, math.floor(free + MARGIN)))


@dataclass
class ThreadGovernor:
    """Sets torch's intra-op threads to what the machine leaves free, up to ``requested``.

    :func:`govern_threads` calls ``check()`` once per ``window`` from a global module
    forward pre-hook. ``sample`` and ``set_threads`` are injectable for tests.
    """

    requested: int
    cpus: int = field(default_factory=_process_cpus)
    sample: Callable[[], CpuSample] = read_cpu_sample
    set_threads: Callable[[int], None] = field(default=None)  # type: ignore[assignment]
    window: float = WINDOW
    current: int = 0
    changes: list[tuple[float, int]] = field(default_factory=list)  # (wall, threads) history
    _last: CpuSample | None = None
    _rise_votes: int = 0

    def __post_init__(self) -> None:
        if self.set_threads is None:
            import torch

            self.set_threads = torch.set_num_threads
        self.current = self.requested
        self.set_threads(self.requested)
        self._last = self.sample()

    def check(self) -> int:
        """Re-decide from the CPU time spent since the last check; the thread count in use.
        Call it once per window (the hook of :func:`govern_threads` does)."""
        now = self.sample()
        target = target_threads(self._last, now, self.cpus, self.requested)
        self._last = now
        if target < self.current:
            self._apply(target, now.wall)  # at once: spinning beside another process is costly
        elif target > self.current:
            self._rise_votes += 1
            if self._rise_votes >= 2:
                self._apply(target, now.wall)
        else:
            self._rise_votes = 0
        return self.current

    def _apply(self, threads: int, wall: float) -> None:
        self._rise_votes = 0
        self.current = threads
        self.set_threads(threads)
        self.changes.append((wall, threads))


_installed: dict[str, Any] = {}  # the process's one governor and its hook handle


def govern_threads(requested: int | None = None) -> ThreadGovernor | None:
    """Use ``requested`` torch threads (default: torch's count) while the cores are free, and
    fewer while other processes take them. Returns the governor, or None where it cannot run
    (one thread requested, no usable ``/proc/stat``, or ``RNNLAB_THREAD_GOVERNOR=0``): then
    the count is simply set. Calling it again replaces the previous governor."""
    import torch

    requested = requested or torch.get_num_threads()
    stop_governing()
    if requested < 2 or not can_govern():
        torch.set_num_threads(requested)
        return None
    governor = ThreadGovernor(requested)
    main = threading.main_thread()
    next_check = [time.monotonic() + governor.window]

    def hook(module: torch.nn.Module, args: object) -> None:
        if (time.monotonic() < next_check[0] or threading.current_thread() is not main
                or torch.compiler.is_compiling()):
            return
        next_check[0] = time.monotonic() + governor.window
        governor.check()

    _installed["governor"] = governor
    _installed["handle"] = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    return governor


def stop_governing() -> None:
    """Remove the governor (the thread count stays what it last set)."""
    handle = _installed.pop("handle", None)
    if handle is not None:
        handle.remove()
    _installed.pop("governor", None)


@contextmanager
def governed_threads(requested: int | None = None) -> Iterator[ThreadGovernor | None]:
    """:func:`govern_threads` for the block; afterwards no governor and the thread count the
    process had before (a study run inside a longer-lived process leaves it as it was)."""
    import torch

    previous = torch.get_num_threads()
    try:
        yield govern_threads(requested)
    finally:
        stop_governing()
        torch.set_num_threads(previous)
