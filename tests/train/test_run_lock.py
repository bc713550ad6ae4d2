"""One writer per run directory (issue 13 item 3): a second writer is refused, a killed
writer's stale lock is taken over, a finished run leaves no lock behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rnnlab.cli import main
from rnnlab.train import run_lock as run_lock_module
from rnnlab.train.run_lock import LOCK_FILE, RunLockedError, run_lock

TINY = ["--data", "imdb-short", "--vocab-size", "50", "--maxlen", "5", "--embedding", "3",
        "--hidden", "2", "--dense", "0", "--epochs", "1", "--no-progress", "--threads", "1"]


def test_a_second_writer_is_refused_naming_the_holder_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    with run_lock(out):
        assert main(["train", *TINY, "--out", str(out)]) == 2
        assert [p.name for p in out.iterdir()] == [LOCK_FILE]  # no checkpoint, no config
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert f"out_dir (--out) {str(out)!r} is being written by pid {os.getpid()}" in error
    assert "choose another" in error and "torchrun" in error
    assert not out.exists()  # the lock created the directory and removed it again


def test_the_same_process_cannot_take_a_lock_twice(tmp_path):
    with run_lock(tmp_path):
        second = run_lock(tmp_path)
        with pytest.raises(RunLockedError, match="is being written by"):
            second.__enter__()
    with run_lock(tmp_path):  # released on exit: free again
        holder = json.loads((tmp_path / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()


def test_the_stale_lock_of_a_killed_writer_is_taken_over(tmp_path):
    # run_lock.py imports nothing of rnnlab: load it alone, without torch's import time
    script = ("import importlib.util, os, signal, sys\n"
              "spec = importlib.util.spec_from_file_location('run_lock', sys.argv[2])\n"
              "module = importlib.util.module_from_spec(spec)\n"
              "spec.loader.exec_module(module)\n"
              "with module.run_lock(sys.argv[1]):\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", script, str(tmp_path), run_lock_module.__file__],
                            timeout=60)
    assert killed.returncode == -9
    stale = json.loads((tmp_path / LOCK_FILE).read_text())
    assert stale["pid"] != os.getpid()  # the file still names the dead writer
    with run_lock(tmp_path):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()
