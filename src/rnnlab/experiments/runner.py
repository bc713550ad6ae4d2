"""Run a study: every (arrangement, run) trained, every epoch recorded, resumable after a kill.

    study directory/
      results.sqlite                  the result store (WAL): runs, epochs, configs
      runs/<arrangement>[-masked]/run<r>/checkpoint.pt, metrics.json, config.json, vocab.json
      report/report.md, report.html, figures/*.png

Workers (this process for ``jobs=1``, else ``jobs`` spawned processes) claim pending runs
from the store one at a time, so a run is never trained twice and parallel workers never
collide. A run killed half-way resumes from its last checkpoint when ``compare`` runs again
(the store hands the run of a dead worker back); finished runs are skipped. Ctrl-C releases
every claim and raises :class:`StudyInterruptedError`; only a run whose training raised is
'failed' (``retry_failed`` trains it again).

The store can be rebuilt from ``runs/``: ``rebuild_store=True`` moves the file aside and
runs the study again, which resumes every run from its checkpoint and so records the same
epochs and results (a checkpoint holds every epoch's metrics).

The unit of work is one run (``train_one_run``); several runs of one arrangement could later
be trained together as one batched model behind the same claim/record protocol.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.store_records import EpochMetrics, RunRow
from rnnlab.experiments.study import StudyConfig, expand_runs, study_from_dict
from rnnlab.experiments.toy_runner import is_toy_run, train_toy_run
from rnnlab.experiments.toy_study import is_toy_study, prepare_toy_data

STORE_FILE = "results.sqlite"
REPORT_DIR = "report"
# Trains a study's pending runs elsewhere (ray_executor.RayExecutor): store, study id, study,
# study directory, the prepared data.
Executor = Callable[[ResultStore, int, StudyConfig, Path, Any], None]


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


def prepare_data(study: StudyConfig) -> Any:
    """Load and encode the study's dataset once per worker (deterministic: same vocabulary)."""
    if is_toy_study(study):  # a toy task: generated held-out sets (quotes: the text)
        return prepare_toy_data(study)
    from rnnlab.data import EncodingConfig, VocabConfig, load_dataset
    from rnnlab.train import encode_dataset

    dataset = load_dataset(study.dataset, **study.data_options)
    return encode_dataset(
        dataset, vocab_config=VocabConfig(max_size=study.vocab_size),
        encoding=EncodingConfig(maxlen=study.maxlen, padding=study.padding,
                                truncating=study.padding))


def run_directory(study_dir: Path, run: RunRow) -> Path:
    suffix = "-masked" if run.masked else ""
    return study_dir / "runs" / f"{run.arrangement}{suffix}" / f"run{run.run_index}"


def train_one_run(store: ResultStore, run: RunRow, data: Any, study_dir: Path,
                  progress: bool = False) -> None:
    """Train (or resume) one claimed run, recording each epoch; marks it done or failed."""
    if is_toy_run(run):
        return train_toy_run(store, run, data, study_dir, progress)
    from rnnlab.models import ClassifierConfig
    from rnnlab.train import TrainConfig, train_classifier

    config = run.config
    out_dir = run_directory(study_dir, run)
    started = time.perf_counter()
    previous_seconds = 0.0

    def record(metrics: EpochMetrics) -> None:
        nonlocal previous_seconds
        store.record_epoch(run.id, metrics, checkpoint_path=out_dir / "checkpoint.pt")
        previous_seconds += metrics.seconds or 0.0

    try:
        try:
            # The checkpoint is the truth: forget what the store holds for this run, and let
            # train_classifier replay the epochs it restores (on_epoch) before training on,
            # so epochs recorded after the last checkpoint (a kill in between) are trained
            # again.
            store.discard_epochs_after(run.id, 0)
            result = train_classifier(
                ClassifierConfig.from_dict(config["model"]), data, seed=run.seed,
                data_seed=run.seed, out_dir=out_dir, epochs=config["epochs"],
                train_config=TrainConfig.from_dict(config["training"]), resume=True,
                on_epoch=record, progress=progress)
        except Exception:  # recorded in the store and the report; the study goes on
            store.fail_run(run.id, traceback.format_exc())
            return
        final = result.final
        store.finish_run(run.id, test_accuracy=final.test_accuracy, test_loss=final.test_loss,
                         wall_seconds=max(previous_seconds, time.perf_counter() - started),
                         checkpoint_path=out_dir / "checkpoint.pt")
    except KeyboardInterrupt:
        # Not a failure of the run: give it back (its checkpoint holds the finished epochs;
        # the current one is discarded) so the next `compare` resumes it.
        store.release_claims(run.study_id)
        raise


def _interrupt(signum: int, frame: object) -> None:
    """A SIGINT handler that raises KeyboardInterrupt once, then ignores SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


@contextmanager
def _interrupt_once() -> Iterator[None]:
    """In the block, the first SIGINT raises KeyboardInterrupt and later ones are ignored,
    so a second Ctrl-C cannot cut the release of the claims short.

    Nothing changes where SIGINT is ignored already (a background job) or off the main
    thread (where handlers cannot be set).
    """
    # The yields stay outside the try that catches ValueError: an error of the block (a
    # StoreDamagedError is a ValueError) must propagate, not be taken for "not the main
    # thread" (which made contextlib raise "generator didn't stop after throw()").
    previous = signal.getsignal(signal.SIGINT)
    installed = False
    if previous is not signal.SIG_IGN:
        try:
            signal.signal(signal.SIGINT, _interrupt)
            installed = True
        except ValueError:  # not the main thread
            pass
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGINT, previous)


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


def _die_with_parent(parent_pid: int) -> None:
    """Make this worker die when the parent does, even by SIGKILL (Linux prctl).

    Otherwise a killed ``compare`` would leave workers training on; the store would then
    see their runs as alive and not hand them to the next ``compare``.
    """
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the claim loop checks the parent instead
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def work(store_path: str, study_name: str, study_dict: dict, study_dir: str, worker: str,
         threads: int | None, parent_pid: int | None = None) -> int:
    """A worker: claim, train, record, until nothing is pending. Returns runs trained."""
    import torch

    if parent_pid is not None:
        _die_with_parent(parent_pid)
    if threads:
        torch.set_num_threads(threads)
    study = study_from_dict(study_dict)
    store = ResultStore(store_path)
    study_id = store.study(study_name).id
    trained = 0
    if parent_pid is not None:
        # Started with SIGINT ignored (a Ctrl-C during start-up would be a traceback); from
        # here it takes one SIGINT (a terminal's, or the one the parent passes on) and
        # ignores the rest until it has exited.
        signal.signal(signal.SIGINT, _interrupt)
    with contextlib.nullcontext() if parent_pid is not None else _interrupt_once():
        try:
            trained = _work_on(store, study_id, study, Path(study_dir), worker, parent_pid)
        except KeyboardInterrupt:  # the parent says how to resume
            store.release_claims(study_id)
        except ValueError as error:
            print(f"rnnlab compare: {worker}: error: {error}", file=sys.stderr)
        finally:
            store.close()
    return trained


def _work_on(store: ResultStore, study_id: int, study: StudyConfig, study_dir: Path,
             worker: str, parent_pid: int | None) -> int:
    trained = 0
    data = prepare_data(study)
    # The parent checked the data; a file changed since then must not be trained on.
    store.check_data(study_id, study.dataset, data.fingerprint())
    while (parent_pid is None or os.getppid() == parent_pid) and (
            run := store.claim_next_run(study_id, worker)) is not None:
        train_one_run(store, run, data, study_dir)
        trained += 1
    return trained


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
            called as ``executor(store, study_id, study, study_dir, data)``.

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
    with _interrupt_once():
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
        study_id = store.ensure_study(study.name, study.to_dict())
        store.check_data(study_id, study.dataset, data.fingerprint())
        store.add_runs(study_id, study.expand_runs(data) if is_toy_study(study) else
                       expand_runs(study, vocab_size=len(data.vocab),
                                   num_classes=data.num_classes))
        if retry_failed:
            store.retry_failed(study_id)
        _train_pending(store, study_id, study, study_dir, data, jobs, threads, progress,
                       executor)
        return store.status_counts(study_id)
    except KeyboardInterrupt:
        if study_id is not None:  # wherever Ctrl-C landed, even between claim and training
            store.release_claims(study_id)
        counts = None if study_id is None else store.status_counts(study_id)
        raise StudyInterruptedError(store_path, counts) from None
    finally:
        store.close()


def _train_pending(store: ResultStore, study_id: int, study: StudyConfig, study_dir: Path,
                   data: Any, jobs: int, threads: int | None, progress: bool,
                   executor: Executor | None = None) -> None:
    from rnnlab.experiments.progress import StudyProgress

    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    with StudyProgress(store, study_id, study.epochs, enabled=progress):
        if executor is not None:
            executor(store, study_id, study, study_dir, data)
        elif jobs == 1:
            import torch

            torch.set_num_threads(threads)
            worker = f"{socket.gethostname()}:{os.getpid()}"
            while (run := store.claim_next_run(study_id, worker)) is not None:
                train_one_run(store, run, data, study_dir)
        else:
            _run_workers(store.path, study, study_dir, jobs, threads)


def _run_workers(store_path: Path, study: StudyConfig, study_dir: Path, jobs: int,
                 threads: int) -> None:
    context = multiprocessing.get_context("spawn")  # fork + torch threads is unsafe
    processes = [
        context.Process(target=work, args=(str(store_path), study.name, study.to_dict(),
                                           str(study_dir), f"worker-{index}", threads,
                                           os.getpid()))
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
