"""Worker processes for ``run_study(jobs > 1)``: each claims runs from the store until none
are pending, and Ctrl-C stops them all with every claim released.

    compare (parent)  ── spawn ──►  worker-0: claim ─ train ─ record ─ claim ─ ...
       waits; on Ctrl-C            worker-1: claim ─ train ─ record ─ ...
       passes SIGINT on ────────►  each releases its claim and exits

The store decides who trains what (a run is claimed in one write transaction), so workers
never share a run and need no other channel to the parent.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

from rnnlab.experiments.artifacts import check_study_inputs
from rnnlab.experiments.interrupts import interrupt_once, raise_if_interrupted, take_one_interrupt
from rnnlab.experiments.run_training import prepare_data, train_pending_runs
from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.study import StudyConfig, study_from_dict

__all__ = ["run_workers", "work"]


def _die_with_parent(parent_pid: int) -> None:
    """Make this worker die when the parent does, even by SIGKILL (Linux prctl).

    Otherwise a killed ``compare`` would leave workers training on; the store would then
    see their runs as alive and not hand them to the next ``compare``.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the claim loop checks the parent instead
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def work(store_path: str, study_name: str, study_dict: dict, study_dir: str, worker: str,
         threads: int | None, parent_pid: int | None = None,
         run_ids: tuple[int, ...] | None = None) -> int:
    """A worker: claim, train, record, until nothing is pending (of ``run_ids``, when
    given). Returns runs trained."""
    try:
        try:
            return _work(store_path, study_name, study_dict, study_dir, worker, threads,
                         parent_pid, run_ids)
        finally:
            if parent_pid is not None:
                # Done: from here a Ctrl-C has nothing to stop, and raised during the exit
                # it printed a traceback from inside torch's atexit finalizers.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:  # landed after the claim loop let go of its claims
        return 0


def _work(store_path: str, study_name: str, study_dict: dict, study_dir: str, worker: str,
          threads: int | None, parent_pid: int | None,
          run_ids: tuple[int, ...] | None = None) -> int:
    if parent_pid is not None:
        _die_with_parent(parent_pid)
    if threads:
        from rnnlab.cpu_threads import govern_threads

        govern_threads(threads)  # a worker process: its own governor, for its lifetime
    study = study_from_dict(study_dict)
    store = ResultStore(store_path)
    study_id = store.study(study_name).id
    trained = 0
    if parent_pid is not None:
        # Started with SIGINT ignored (a Ctrl-C during start-up would be a traceback); from
        # here it takes one SIGINT (a terminal's, or the one the parent passes on) and
        # ignores the rest until it has exited.
        take_one_interrupt()
    with contextlib.nullcontext() if parent_pid is not None else interrupt_once():
        try:
            trained = _claim_and_train(store, study_id, study, Path(study_dir), worker,
                                       parent_pid, run_ids)
        except KeyboardInterrupt:  # the parent says how to resume
            store.release_claims(study_id)
        except ValueError as error:
            print(f"rnnlab compare: {worker}: error: {error}", file=sys.stderr)
        finally:
            store.close()
    return trained


def _claim_and_train(store: ResultStore, study_id: int, study: StudyConfig, study_dir: Path,
                     worker: str, parent_pid: int | None,
                     run_ids: tuple[int, ...] | None = None) -> int:
    data = prepare_data(study)
    # The parent checked the data; a file changed since then must not be trained on.
    check_study_inputs(store, study_id, study, data)
    return train_pending_runs(store, study_id, data, study_dir, worker=worker,
                              parent_pid=parent_pid, only=run_ids)


def run_workers(store_path: Path, study: StudyConfig, study_dir: Path, jobs: int,
                threads: int, run_ids: tuple[int, ...] | None = None) -> None:
    """Train the study's pending runs (those with an id in ``run_ids`` when given) in
    ``jobs`` spawned workers; Ctrl-C stops them all."""
    context = multiprocessing.get_context("spawn")  # fork + torch threads is unsafe
    processes = [
        context.Process(target=work, args=(str(store_path), study.name, study.to_dict(),
                                           str(study_dir), f"worker-{index}", threads,
                                           os.getpid(), run_ids))
        for index in range(jobs)
    ]
    # Workers start with SIGINT ignored and install their handler once they can take it.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for process in processes:
            process.start()
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        for process in processes:
            process.join()
        raise_if_interrupted()  # a Ctrl-C dropped while waiting (see interrupts)
    except KeyboardInterrupt:
        _stop_workers(processes)
        raise


def _stop_workers(processes: list, seconds: float = 60.0) -> None:
    """Pass Ctrl-C on until every worker has released its claim and exited.

    A terminal's Ctrl-C reaches the workers too, a SIGINT sent to this process alone does
    not; a worker still starting up ignores it. Sending it again is safe: a worker takes
    only the first. One stuck past ``seconds`` is terminated (its claim is then released
    as a dead worker's).
    """
    deadline = time.monotonic() + seconds
    while (alive := [p for p in processes if p.is_alive()]) and time.monotonic() < deadline:
        for process in alive:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGINT)
        alive[0].join(timeout=0.2)
    for process in processes:
        if process.is_alive():
            process.terminate()
        process.join()
