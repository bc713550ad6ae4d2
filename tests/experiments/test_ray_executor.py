"""`rnnlab compare --executor ray` (issue 13 item 4): a study on a 2-node Ray cluster.

The oracle is the local runner: every run trained as a Ray task must record exactly the
epochs and results the local runner records for it, also after the driver is killed half-way
and started again (no run lost, none trained twice). The cluster is two Ray nodes on
127.0.0.1 with one CPU each, started by ``ray.cluster_utils.Cluster`` and stopped after.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnlab.cli import main
from rnnlab.experiments.runner import run_study
from rnnlab.experiments.store import ResultStore

from .test_compare_cli import _recorded_epochs, _study, _study_file
from .test_runner import _final_rows

ray = pytest.importorskip("ray")
# Ray rewrites a 127.0.0.1 address to the machine's outward IP (services.py,
# resolve_ip_for_localhost), where this loopback-only cluster does not listen; this switch
# (meant for macOS/Windows) makes it keep 127.0.0.1, so all traffic stays on loopback.
LOOPBACK = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False,
            "object_store_memory": 80 * 1024 * 1024}
    started = Cluster(initialize_head=True, head_node_args=node)
    try:
        started.add_node(**{k: v for k, v in node.items() if k != "include_dashboard"})
        yield started
    finally:
        started.shutdown()


def _training_worker(cluster) -> int | None:
    """The pid of a Ray worker of ``cluster`` training a run (its title is the task's name),
    or None; only children of this cluster's raylets are looked at."""
    raylets = {info.process.pid for node in cluster.list_all_nodes()
               for info in node.all_processes["raylet"]}
    for entry in Path("/proc").iterdir():
        try:
            title = (entry / "cmdline").read_bytes()
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if title.startswith(b"ray::train_run") and parent in raylets:
            return int(entry.name)
    return None


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once the probe closes: nothing listens there


def test_an_address_that_does_not_answer_is_a_clear_error_before_anything_is_written(
        tmp_path, capsys):
    study_file, out = _study_file(tmp_path, _study(tmp_path)), tmp_path / "out"
    address = f"127.0.0.1:{_closed_port()}"
    assert main(["compare", "--study", str(study_file), "--out", str(out), "--no-progress",
                 "--executor", "ray", "--address", address]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"--address {address!r}: nothing answered" in error and "ray start --head" in error
    assert not out.exists()
    assert main(["compare", "--study", str(study_file), "--out", str(out),
                 "--address", address]) == 2
    assert "needs --executor ray" in capsys.readouterr().err


@pytest.mark.slow
def test_a_study_on_two_ray_nodes_records_the_local_runners_numbers_after_a_killed_driver(
        tmp_path, cluster):
    study = _study(tmp_path, arrangements=("SS_RSF_LSTM", "MS_RST_LSTM"), runs=2, epochs=6)
    study_file, out = _study_file(tmp_path, study), tmp_path / "out"
    command = [sys.executable, "-m", "rnnlab", "compare", "--study", str(study_file),
               "--out", str(out), "--no-progress", "--executor", "ray",
               "--address", cluster.address]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=LOOPBACK)
    deadline = time.monotonic() + 180
    while _recorded_epochs(out / "results.sqlite") < 2:
        assert driver.poll() is None, driver.communicate()
        assert time.monotonic() < deadline, "the Ray study recorded no epoch"
        time.sleep(0.02)
    os.kill(driver.pid, signal.SIGKILL)
    driver.communicate(timeout=60)
    while _training_worker(cluster) is not None:  # Ray stops the dead driver's tasks
        assert time.monotonic() < deadline, "the killed driver's tasks kept running"
        time.sleep(0.05)
    with ResultStore(out / "results.sqlite") as store:
        statuses = [run.status for run in store.runs(store.studies()[0].id)]
    assert statuses.count("done") < 4  # killed mid-study, its claims held by a dead pid

    # the resumed driver loses a worker mid-run: it resubmits that run from its checkpoint
    resumed = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=LOOPBACK)
    while (worker := _training_worker(cluster)) is None:
        assert resumed.poll() is None, resumed.communicate()
        assert time.monotonic() < deadline + 180, "the resumed study made no progress"
        time.sleep(0.02)
    os.kill(worker, signal.SIGKILL)
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    assert "4 done" in stdout
    assert "lost its Ray worker or node (WorkerCrashedError); resubmitted" in stderr
    reference = run_study(study, tmp_path / "local", threads=1, progress=False, report=False)
    assert _final_rows(out / "results.sqlite") == _final_rows(reference.store_path)
    assert (out / "report" / "report.md").exists()
    # the checkpoints travelled back: each run directory is complete and loadable
    metrics = json.loads((out / "runs" / "MS_RST_LSTM" / "run1" / "metrics.json").read_text())
    assert len(metrics["epochs"]) == 6
