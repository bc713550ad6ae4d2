"""The thread governor: torch threads follow the cores other processes leave free."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest
import torch

from rnnlab import cpu_threads as governor_module
from rnnlab.cpu_threads import (
    CpuSample,
    ThreadGovernor,
    can_govern,
    governed_threads,
    read_cpu_sample,
    target_threads,
)


def test_free_cores_are_the_cpus_minus_what_other_processes_took() -> None:
    start = CpuSample(wall=10.0, machine_busy=100.0, own=5.0)
    # 2 s of wall on 4 CPUs: the machine was busy 5 CPU-s, 3 of them ours -> others 1 core
    assert target_threads(start, CpuSample(12.0, 105.0, 8.0), cpus=4, requested=4) == 3
    assert target_threads(start, CpuSample(12.0, 105.0, 8.0), cpus=4, requested=2) == 2
    # others took both cores of 2 -> still one thread, never zero
    assert target_threads(start, CpuSample(11.0, 103.0, 1.0), cpus=2, requested=2) == 1
    # our own spinning threads are not "others": an idle machine keeps every thread
    assert target_threads(start, CpuSample(11.0, 102.0, 7.0), cpus=2, requested=2) == 2
    # 0.2 of a core taken leaves it free; 0.4 does not (one process beside two spinning
    # threads gets ~0.67 of a core)
    assert target_threads(start, CpuSample(11.0, 101.2, 6.0), cpus=2, requested=2) == 2
    assert target_threads(start, CpuSample(11.0, 101.4, 6.0), cpus=2, requested=2) == 1
    # no wall time passed: nothing to decide on
    assert target_threads(start, start, cpus=2, requested=2) == 2


def _scripted(samples: list[CpuSample]):
    feed = iter(samples)
    return lambda: next(feed)


def test_drops_at_once_and_rises_only_after_two_windows_agree() -> None:
    set_to: list[int] = []
    # per 1 s window on 2 CPUs: others take 1 core, then 1 core, then none for three windows
    samples = [CpuSample(0, 0, 0), CpuSample(1, 2, 1), CpuSample(2, 4, 2),
               CpuSample(3, 5, 3), CpuSample(4, 6, 4), CpuSample(5, 8, 6)]
    governor = ThreadGovernor(2, cpus=2, sample=_scripted(samples), set_threads=set_to.append)
    assert set_to == [2]
    assert [governor.check() for _ in range(5)] == [1, 1, 1, 2, 2]
    assert set_to == [2, 1, 2]
    assert governor.changes == [(1, 1), (4, 2)]


def test_one_free_window_between_busy_ones_does_not_raise_the_count() -> None:
    set_to: list[int] = []
    samples = [CpuSample(0, 0, 0), CpuSample(1, 2, 1), CpuSample(2, 3, 2),
               CpuSample(3, 5, 3), CpuSample(4, 6, 4)]
    governor = ThreadGovernor(2, cpus=2, sample=_scripted(samples), set_threads=set_to.append)
    assert [governor.check() for _ in range(4)] == [1, 1, 1, 1]
    assert set_to == [2, 1]


def test_a_cpu_sample_counts_this_process_and_the_machine() -> None:
    if not can_govern():
        pytest.skip("/proc/stat does not describe this process's CPUs here")
    before = read_cpu_sample()
    end = time.process_time() + 0.3
    while time.process_time() < end:  # burn 0.3 CPU s in this process
        pass
    after = read_cpu_sample()
    assert after.own - before.own == pytest.approx(0.3, abs=0.05)
    # the machine's busy time includes ours (ticks are 10 ms)
    assert after.machine_busy - before.machine_busy >= 0.3 - 0.05


def test_disabled_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNNLAB_THREAD_GOVERNOR", "0")
    assert not can_govern()
    with governed_threads(2) as governor:
        assert governor is None and torch.get_num_threads() == 2


def test_one_thread_needs_no_governor() -> None:
    with governed_threads(1) as governor:
        assert governor is None and torch.get_num_threads() == 1


def _burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _skip_unless_two_cores_are_free() -> None:
    """"... and back" needs two cores nobody else uses; on a machine already busy (a
    training beside the suite) the governor rightly stays at one thread."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 CPUs")
    first = read_cpu_sample()
    time.sleep(1.0)
    free = target_threads(first, read_cpu_sample(), os.cpu_count() or 1, 2)
    if free < 2:
        pytest.skip(f"other processes already take CPU here (torch would get {free} thread)")


@pytest.mark.alone  # the other test worker would count as a busy core
def test_other_processes_on_every_core_bring_torch_to_one_thread_and_back() -> None:
    """The whole path: real busy processes, the forward pre-hook, torch's thread count."""
    if not can_govern():
        pytest.skip("/proc/stat does not describe this process's CPUs here")
    _skip_unless_two_cores_are_free()
    before = torch.get_num_threads()
    layer = torch.nn.Linear(8, 8)
    x = torch.randn(4, 8)
    burners = [multiprocessing.get_context("spawn").Process(target=_burn, args=(30.0,))
               for _ in range(os.cpu_count() or 1)]
    with governed_threads(2) as governor:
        assert governor is not None and governor.current == 2
        for burner in burners:
            burner.start()
        try:
            deadline = time.monotonic() + 15
            while governor.current != 1 and time.monotonic() < deadline:
                layer(x)  # the hook decides once per window
                time.sleep(0.05)
            assert governor.current == 1 and torch.get_num_threads() == 1
        finally:
            for burner in burners:
                burner.terminate()
                burner.join()
        deadline = time.monotonic() + 15
        while governor.current != 2 and time.monotonic() < deadline:
            layer(x)
            time.sleep(0.05)
        assert governor.current == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == before  # the block leaves the count as it found it
    assert "handle" not in governor_module._installed  # and no hook behind


def test_the_hook_does_nothing_off_the_main_thread() -> None:
    if not can_govern():
        pytest.skip("/proc/stat does not describe this process's CPUs here")
    import threading

    checks: list[int] = []
    layer, x = torch.nn.Linear(2, 2), torch.ones(1, 2)
    with governed_threads(2) as governor:
        original = governor.check
        governor.check = lambda: checks.append(1) or original()  # type: ignore[method-assign]
        time.sleep(governor.window + 0.05)  # a check is due
        worker = threading.Thread(target=lambda: layer(x))
        worker.start()
        worker.join()
        assert checks == []
        layer(x)  # on the main thread it checks
        assert checks == [1]
