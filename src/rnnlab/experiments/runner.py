"""Run a study: every (arrangement, run) trained, every epoch recorded, resumable after a kill.

    study directory/
      results.sqlite                  the result store (WAL): runs, epochs, configs
      runs/<arrangement>[-masked]/run<r>/checkpoint.pt, metrics.json, config.json, vocab.json
      report/report.md, report.html, figures/*.png

Workers (this process for ``jobs=1``, else ``jobs`` spawned processes, see
:mod:`~rnnlab.experiments.workers`) claim pending runs from the store one at a time, so a
run is never trained twice and parallel workers never collide. A run killed half-way
resumes from its last checkpoint when ``compare`` runs again (the store hands the run of a
dead worker back); finished runs are skipped. Ctrl-C releases every claim and raises
:class:`StudyInterruptedError` (:mod:`~rnnlab.experiments.interrupts`: taken once, never
lost); only a run whose training raised is 'failed' (``retry_failed`` trains it again).

The store can be rebuilt from ``runs/``: ``rebuild_store=True`` moves the file aside and
runs the study again, which resumes every run from its checkpoint and so records the same
epochs and results (a checkpoint holds every epoch's metrics).

The unit of work is one run (``train_one_run``); several runs of one arrangement could later
be trained together as one batched model behind the same claim/record protocol.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnlab.experiments.artifacts import check_study_inputs
from rnnlab.experiments.interrupts import interrupt_once, raise_if_interrupted
from rnnlab.experiments.run_training import (
    prepare_data,
    run_directory,
    train_one_run,
    train_pending_runs,
)
from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.study import StudyConfig, expand_runs
from rnnlab.experiments.study_growth import (
    StudyGrowthError,
    describe_growth,
    grow_study_config,
)
from rnnlab.experiments.toy_study import is_toy_study
from rnnlab.experiments.workers import run_workers

# Re-exported: ray_executor, ray_task and older callers import them from here.
__all__ = ["REPORT_DIR", "STORE_FILE", "Executor", "StudyInterruptedError", "StudyOutcome",
           "move_store_aside", "prepare_data", "run_directory", "run_study", "train_one_run"]

STORE_FILE = "results.sqlite"
REPORT_DIR = "report"
# Trains a study's pending runs elsewhere (ray_executor.RayExecutor): store, study id, study,
# study directory, the prepared data.
Executor = Callable[[ResultStore, int, StudyConfig, Path, Any, tuple[int, ...] | None], None]


class StudyInterruptedError(Exception):
    """Ctrl-C stopped the study; every claim was released, so re-running resumes it."""

    def __init__(self, store_path: Path, status_counts: dict[str, int] | None) -> None:
        counts = "" if status_counts is None else ", ".join(
            f"{count} {status}" for status, count in status_counts.items() if count) + "; "
        super().__init__(
            f"interrupted ({counts}finished epochs are kept in the run checkpoints and "
            f"{store_path}); to resume, run the same command again")
        self.store_path, self.status_counts = store_path, status_counts


@dataclass(frozen=True)
class StudyOutcome:
    """What :func:`run_study` leaves behind."""

    store_path: Path
    report_markdown: Path | None
    report_html: Path | None
    status_counts: dict[str, int]
    wall_seconds: float


def move_store_aside(store_path: Path) -> Path:
    """Move a (damaged) store and its WAL files to ``<name>.damaged-<timestamp>``."""
    if not store_path.exists():
        raise FileNotFoundError(
            f"--rebuild-store: there is no result store {store_path} to rebuild (a study "
            "without one simply runs, and resumes from the checkpoints in runs/)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = store_path.with_name(f"{store_path.name}.damaged-{stamp}")
    index = 1
    while target.exists():
        target = store_path.with_name(f"{store_path.name}.damaged-{stamp}-{index}")
        index += 1
    os.replace(store_path, target)
    # A stale WAL beside a new store would be replayed into it: move the pair together.
    for suffix in ("-wal", "-shm"):
        sibling = store_path.with_name(store_path.name + suffix)
        if sibling.exists():
            os.replace(sibling, target.with_name(target.name + suffix))
    return target


def run_study(study: StudyConfig, study_dir: str | os.PathLike[str], *, jobs: int = 1,
              threads: int | None = None, progress: bool = True, retry_failed: bool = False,
              report: bool = True, rebuild_store: bool = False,
              executor: Executor | None = None) -> StudyOutcome:
    """Train every run of ``study`` not yet done, then write the report.

    Args:
        study: what to run (see :mod:`rnnlab.experiments.study`).
        study_dir: holds the store, checkpoints and report; re-running resumes.
        jobs: parallel worker processes.
        threads: torch threads per worker; default: the cores split between the jobs, so the
            machine is not oversubscribed (oversubscribed OpenMP threads spin and can make
            training 100x slower, see benchmarks/RESULTS.md).
        retry_failed: give failed runs (those that raised, or that an older rnnlab
            abandoned) another try.
        report: write the Markdown/HTML report at the end.
        rebuild_store: move the store aside (``results.sqlite.damaged-<timestamp>``) and
            rebuild it by resuming every run from its checkpoint in ``runs/``.
        executor: trains the pending runs instead of this machine's workers (``jobs`` and
            ``threads`` unused), e.g. a :class:`~rnnlab.experiments.ray_executor.RayExecutor`;
            called as ``executor(store, study_id, study, study_dir, data, run_ids)`` with the
            ids of the runs ``study`` asks for.

    A ``study_dir`` that already holds the study grows to take more runs, arrangements or
    conditions (:mod:`rnnlab.experiments.study_growth`); only the runs ``study`` names are
    trained, and the report covers every run stored.

    Raises:
        StudyInterruptedError: on Ctrl-C, after every claim was released.
        DataChangedError: if the data differs from the data the study started on.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    begin = time.perf_counter()
    study_dir = Path(study_dir)
    store_path = study_dir / STORE_FILE
    moved_to = move_store_aside(store_path) if rebuild_store else None
    if moved_to is not None:
        print(f"moved the damaged store to {moved_to}; rebuilding {store_path} from "
              f"{study_dir / 'runs'}", flush=True)
    with interrupt_once():
        counts = _run_in_store(study, study_dir, store_path, jobs=jobs, threads=threads,
                               progress=progress, retry_failed=retry_failed, executor=executor)

    markdown = html = None
    if report:
        from rnnlab.experiments.report import write_report

        paths = write_report(store_path, study.name, study_dir / REPORT_DIR)
        markdown, html = paths.markdown, paths.html
    return StudyOutcome(store_path, markdown, html, counts, time.perf_counter() - begin)


def _run_in_store(study: StudyConfig, study_dir: Path, store_path: Path, *, jobs: int,
                  threads: int | None, progress: bool, retry_failed: bool,
                  executor: Executor | None = None) -> dict[str, int]:
    """Add the study's runs and train the pending ones; the status counts at the end."""
    try:
        data = prepare_data(study)  # a bad dataset is refused before anything is written
    except KeyboardInterrupt:
        raise StudyInterruptedError(store_path, None) from None
    store = ResultStore(store_path)
    study_id = None
    try:
        study_id = _ensure_grown_study(store, study, data)
        run_ids = store.add_runs(study_id, study.expand_runs(data) if is_toy_study(study) else
                                 expand_runs(study, vocab_size=len(data.vocab),
                                             num_classes=data.num_classes))
        if retry_failed:
            store.retry_failed(study_id)
        _train_pending(store, study_id, study, study_dir, data, jobs, threads, progress,
                       executor, run_ids)
        raise_if_interrupted()  # a Ctrl-C dropped after the last run closed (see interrupts)
        return store.status_counts(study_id)
    except KeyboardInterrupt:
        if study_id is not None:  # wherever Ctrl-C landed, even between claim and training
            store.release_claims(study_id)
        counts = None if study_id is None else store.status_counts(study_id)
        raise StudyInterruptedError(store_path, counts) from None
    finally:
        store.close()


def _ensure_grown_study(store: ResultStore, study: StudyConfig, data: Any) -> int:
    """The study's id, created or grown by what ``study`` adds (and said so), its data and
    pretrained files checked first: a refused invocation leaves the stored config as it was."""
    try:
        before = store.study(study.name)
    except LookupError:
        before = None
    if before is not None:
        try:  # a config that cannot grow is named as such, before the data is compared
            grow_study_config(before.config, study.to_dict())
        except StudyGrowthError as error:
            raise store.different_config_error(study.name, str(error)) from None
        check_study_inputs(store, before.id, study, data)
    study_id = store.ensure_study(study.name, study.to_dict(), grow=grow_study_config)
    if before is None:
        check_study_inputs(store, study_id, study, data)
    else:
        growth = describe_growth(before.config, store.study(study.name).config)
        if growth:
            print(f"study {study.name!r} grows: {growth} (the runs already stored are kept)",
                  flush=True)
    return study_id


def _train_pending(store: ResultStore, study_id: int, study: StudyConfig, study_dir: Path,
                   data: Any, jobs: int, threads: int | None, progress: bool,
                   executor: Executor | None = None,
                   run_ids: tuple[int, ...] | None = None) -> None:
    from rnnlab.experiments.progress import StudyProgress

    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    with StudyProgress(store, study_id, study.epochs, enabled=progress, only=run_ids):
        if executor is not None:
            executor(store, study_id, study, study_dir, data, run_ids)
        elif jobs == 1:
            from rnnlab.cpu_threads import governed_threads

            with governed_threads(threads):  # fewer while other processes take the cores
                train_pending_runs(store, study_id, data, study_dir,
                                   worker=f"{socket.gethostname()}:{os.getpid()}", only=run_ids)
        else:
            run_workers(store.path, study, study_dir, jobs, threads, run_ids)
