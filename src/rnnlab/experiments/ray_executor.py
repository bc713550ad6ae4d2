"""A study across machines: every run a Ray task, ``rnnlab compare --executor ray``.

    ray start --head --port 6379 --num-cpus 2          # on the head node
    ray start --address HEAD:6379 --num-cpus 8         # on every other node
    rnnlab compare --executor ray --address HEAD:6379  # on the head node: the driver

::

    driver (compare)                                 Ray tasks: 1 CPU, 1 torch thread each
      results.sqlite, runs/, report/ (it alone)        a scratch dir on their node
      claim a run ──── run, data, the run's files ───▶  train_one_run (ray_task.py)
      write files, record_epoch ◀─ each epoch ───────   checkpoint + metrics
      finish_run / fail_run ◀─────── the end ────────

The driver claims runs in the store under its own pid, as a local worker does, and keeps at
most one task per cluster CPU in flight. Checkpoints travel back through Ray and are written
into ``runs/`` before the epoch is recorded, so nothing needs a shared filesystem. A killed
driver: the next ``compare`` releases its claims (its pid is gone) and resumes every run from
the last checkpoint it wrote. A lost node or worker: the driver resubmits the run from that
checkpoint (up to ``MAX_LOST`` times, then the run is 'failed' with the Ray error).
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnlab.experiments.interrupts import raise_if_interrupted
from rnnlab.experiments.ray_task import Files, study_files, train_run
from rnnlab.experiments.runner import run_directory
from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.store_records import RunRow
from rnnlab.experiments.study import StudyConfig

MAX_LOST = 3  # resubmissions of a run whose worker or node died, before it counts as failed
CONNECT_TIMEOUT = 10.0  # seconds an --address may take to answer
WAIT_SLICE = 1.0  # seconds the driver waits for a message before it looks for a dropped Ctrl-C
CHECKPOINT_DIGEST = "checkpoint.pt.sha256"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:  # an optional extra
        raise ValueError("--executor ray needs Ray: pip install 'rnnlab[ray]'") from None
    return ray


def resolve_address(address: str | None, timeout: float = CONNECT_TIMEOUT) -> str | None:
    """``address`` checked to answer (None: start a Ray instance on this machine)."""
    if address is None:
        return None
    given = address
    if address == "auto":
        _import_ray()
        # how ray.init(address="auto") finds this machine's cluster, without its long retries
        from ray._private.services import canonicalize_bootstrap_address_or_die

        try:
            address = canonicalize_bootstrap_address_or_die("auto")
        except ConnectionError:
            raise ValueError("--address auto: no Ray cluster runs on this machine; start one "
                             "with `ray start --head`, or give --address HOST:PORT") from None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--address {given!r} is not auto or HOST:PORT (e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ValueError(
            f"--address {given!r}: nothing answered at {host}:{port} within {timeout:g} s "
            f"({error.strerror or error}); start the head with `ray start --head --port "
            f"{port}`, or fix --address") from None
    return address


@dataclass
class _Flight:
    run: RunRow
    lost: int = 0  # times its worker or node died
    closed: bool = False  # finished or failed in the store


@dataclass
class RayExecutor:
    """Trains a study's pending runs as Ray tasks; ``run_study(..., executor=...)`` calls it.

    ``address``: ``HOST:PORT`` of a running cluster, ``"auto"`` (the cluster this machine
    belongs to) or None (a Ray instance on this machine, stopped at the end). It is checked
    here, so a dead address is refused before a study directory is written.
    """

    address: str | None = None
    threads: int = 1  # torch threads per task, one per Ray CPU
    _ray: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._ray = _import_ray()
        self.address = resolve_address(self.address)

    def __call__(self, store: ResultStore, study_id: int, study: StudyConfig,
                 study_dir: Path, data: Any, run_ids: tuple[int, ...] | None = None) -> None:
        ray = self._ray
        if self.address is None:
            ray.init(include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
        else:
            ray.init(address=self.address, log_to_driver=False)
        try:
            _Driver(ray, store, study_id, study_dir, data, self.threads, run_ids).run()
        finally:
            ray.shutdown()


class _Driver:
    def __init__(self, ray: Any, store: ResultStore, study_id: int, study_dir: Path,
                 data: Any, threads: int, run_ids: tuple[int, ...] | None = None) -> None:
        self.ray, self.store, self.study_id, self.study_dir = ray, store, study_id, study_dir
        self.task = ray.remote(num_cpus=1, max_retries=0)(train_run)  # the driver retries
        self.data = ray.put(data)  # once for all tasks
        self.threads = threads
        self.run_ids = run_ids  # the runs this invocation asked for (None: every pending)
        self.worker = f"ray-driver:{socket.gethostname()}:{os.getpid()}"
        self.flights: dict[Any, _Flight] = {}

    def run(self) -> None:
        capacity = max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        try:
            while True:
                while len(self.flights) < capacity and (
                        run := self.store.claim_next_run(self.study_id, self.worker,
                                                         self.run_ids)):
                    self._submit(_Flight(run))
                if not self.flights:
                    return
                # in slices: a Ctrl-C that Ray's C++ wait (or a callback) swallowed is only
                # in the interrupt record, which must stop the driver as a raised one does
                ready, _ = self.ray.wait(list(self.flights), num_returns=1, timeout=WAIT_SLICE)
                for generator in ready:
                    self._advance(generator)
                raise_if_interrupted()
        finally:  # Ctrl-C or an error: stop the tasks; the runner releases the claims
            for generator in self.flights:
                self.ray.cancel(generator, force=True)

    def _submit(self, flight: _Flight) -> None:
        run_dir = run_directory(self.study_dir, flight.run)
        files = study_files(self.study_dir, run_dir)  # the last checkpoint, to resume
        generator = self.task.remote(flight.run, self.data, files, self.threads)
        self.flights[generator] = flight

    def _advance(self, generator: Any) -> None:
        flight = self.flights[generator]
        try:
            message = self.ray.get(next(generator))
        except StopIteration:
            del self.flights[generator]
            if not flight.closed:  # never happens unless the task itself is broken
                self.store.fail_run(flight.run.id, "its Ray task ended without a result")
            return
        except self.ray.exceptions.RayTaskError as error:  # our task code itself raised
            del self.flights[generator]
            self.store.fail_run(flight.run.id, str(error))
            return
        except self.ray.exceptions.RayError as error:  # a worker or node died
            del self.flights[generator]
            flight.lost += 1
            if flight.lost > MAX_LOST:
                self.store.fail_run(flight.run.id, f"its Ray worker or node died "
                                    f"{flight.lost} times; last: {error}")
            else:
                run = flight.run
                print(f"rnnlab compare: {run.arrangement} run {run.run_index} lost its Ray "
                      f"worker or node ({type(error).__name__}); resubmitted from its last "
                      "checkpoint", file=sys.stderr, flush=True)
                self._submit(flight)  # from the last checkpoint the driver wrote
            return
        self._apply(flight.run, message)
        flight.closed = message[0] in ("finish", "fail")

    def _apply(self, run: RunRow, message: tuple) -> None:
        kind, checkpoint = message[0], run_directory(self.study_dir, run) / "checkpoint.pt"
        if kind == "discard":
            self.store.discard_epochs_after(run.id, message[1])
        elif kind == "epoch":
            write_files(self.study_dir, message[2])  # before the store says the epoch exists
            self.store.record_epoch(run.id, message[1], checkpoint_path=checkpoint)
        elif kind == "finish":
            write_files(self.study_dir, message[2])
            self.store.finish_run(run.id, **message[1], checkpoint_path=checkpoint)
        elif kind == "fail":
            self.store.fail_run(run.id, message[1])


def write_files(study_dir: Path, files: Files) -> None:
    """Write a task's files into the study directory, each atomically, and a checkpoint's
    digest so that a kill at any point leaves a checkpoint its digest file lists."""
    files = dict(files)
    digests = {name: files.pop(name) for name in list(files)
               if name.endswith(CHECKPOINT_DIGEST)}
    for name, digest in digests.items():  # the new digest beside the old, until it is in place
        old = study_dir / name
        _replace(old, digest + (old.read_bytes() if old.exists() else b""))
    for name, content in files.items():
        _replace(study_dir / name, content)
    for name, digest in digests.items():
        _replace(study_dir / name, digest)


def _replace(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)
