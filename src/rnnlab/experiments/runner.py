"""Run a study: every (arrangement, run) trained, every epoch recorded, resumable after a kill.

    study directory/
      results.sqlite                  the result store (WAL): runs, epochs, configs
      runs/<arrangement>[-masked]/run<r>/checkpoint.pt, metrics.json, config.json, vocab.json
      report/report.md, report.html, figures/*.png

Workers (this process for ``jobs=1``, else ``jobs`` spawned processes) claim pending runs
from the store one at a time, so a run is never trained twice and parallel workers never
collide. A run killed half-way resumes from its last checkpoint when ``compare`` runs again
(the store hands the run of a dead worker back); finished runs are skipped.

The unit of work is one run (``train_one_run``); several runs of one arrangement could later
be trained together as one batched model behind the same claim/record protocol.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.store_records import RunRow
from rnnlab.experiments.study import StudyConfig, expand_runs, study_from_dict

STORE_FILE = "results.sqlite"
REPORT_DIR = "report"


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
    from rnnlab.models import ClassifierConfig
    from rnnlab.train import TrainConfig, train_classifier

    config = run.config
    out_dir = run_directory(study_dir, run)
    started = time.perf_counter()
    previous_seconds = 0.0

    def record(metrics) -> None:
        nonlocal previous_seconds
        values = metrics.to_dict()
        store.record_epoch(run.id, values, checkpoint_path=out_dir / "checkpoint.pt")
        previous_seconds += values.get("seconds") or 0.0

    try:
        # The checkpoint is the truth: forget what the store holds for this run, and let
        # train_classifier replay the epochs it restores (on_epoch) before training on, so
        # epochs recorded after the last checkpoint (a kill in between) are trained again.
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
    data = None
    trained = 0
    while (parent_pid is None or os.getppid() == parent_pid) and (
            run := store.claim_next_run(study_id, worker)) is not None:
        data = data if data is not None else prepare_data(study)
        train_one_run(store, run, data, Path(study_dir))
        trained += 1
    store.close()
    return trained


def run_study(study: StudyConfig, study_dir: str | os.PathLike[str], *, jobs: int = 1,
              threads: int | None = None, progress: bool = True, retry_failed: bool = False,
              report: bool = True) -> StudyOutcome:
    """Train every run of ``study`` not yet done, then write the report.

    Args:
        study: what to run (see :mod:`rnnlab.experiments.study`).
        study_dir: holds the store, checkpoints and report; re-running resumes.
        jobs: parallel worker processes.
        threads: torch threads per worker; default: the cores split between the jobs, so the
            machine is not oversubscribed (oversubscribed OpenMP threads spin and can make
            training 100x slower, see benchmarks/RESULTS.md).
        retry_failed: give failed runs another try.
        report: write the Markdown/HTML report at the end.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    begin = time.perf_counter()
    study_dir = Path(study_dir)
    store_path = study_dir / STORE_FILE
    store = ResultStore(store_path)
    data = prepare_data(study)
    study_id = store.ensure_study(study.name, study.to_dict())
    store.add_runs(study_id, expand_runs(study, vocab_size=len(data.vocab),
                                         num_classes=data.num_classes))
    if retry_failed:
        store.retry_failed(study_id)

    from rnnlab.experiments.progress import StudyProgress

    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    with StudyProgress(store, study_id, study.epochs, enabled=progress):
        if jobs == 1:
            import torch

            torch.set_num_threads(threads)
            worker = f"{socket.gethostname()}:{os.getpid()}"
            while (run := store.claim_next_run(study_id, worker)) is not None:
                train_one_run(store, run, data, study_dir)
        else:
            _run_workers(store_path, study, study_dir, jobs, threads)
    counts = store.status_counts(study_id)
    store.close()

    markdown = html = None
    if report:
        from rnnlab.experiments.report import write_report

        paths = write_report(store_path, study.name, study_dir / REPORT_DIR)
        markdown, html = paths.markdown, paths.html
    return StudyOutcome(store_path, markdown, html, counts, time.perf_counter() - begin)


def _run_workers(store_path: Path, study: StudyConfig, study_dir: Path, jobs: int,
                 threads: int) -> None:
    context = multiprocessing.get_context("spawn")  # fork + torch threads is unsafe
    processes = [
        context.Process(target=work, args=(str(store_path), study.name, study.to_dict(),
                                           str(study_dir), f"worker-{index}", threads,
                                           os.getpid()))
        for index in range(jobs)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
