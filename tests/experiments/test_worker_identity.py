import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnlab.experiments.worker_identity import current_worker, is_alive_on_this_host

needs_proc = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")


def test_this_process_is_alive_with_its_start_token():
    me = current_worker()
    assert me.pid == os.getpid()
    assert is_alive_on_this_host(me.pid, me.start_token)


@needs_proc
def test_a_reused_pid_with_another_start_token_counts_as_dead():
    assert not is_alive_on_this_host(os.getpid(), "not-my-start-time")


def test_an_exited_and_reaped_process_is_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not is_alive_on_this_host(child.pid, None)


@needs_proc
def test_a_killed_but_unreaped_zombie_is_dead():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        child.kill()
        stat = Path(f"/proc/{child.pid}/stat")
        deadline = time.monotonic() + 5
        while stat.read_text().split(") ")[1][0] != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not is_alive_on_this_host(child.pid, None)
    finally:
        child.wait()
