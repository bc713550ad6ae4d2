"""``rnnlab compare`` (run a study, then report) and ``rnnlab report`` (report a stored study)."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rnnlab.cli.common import add_worker_threads_option, study_exit_code
from rnnlab.cli.datasets import DATA_LOCATIONS_HELP, add_download_option, prepare_named_data


def register(subparsers: argparse._SubParsersAction) -> None:
    compare = subparsers.add_parser(
        "compare", help="run the seed-002 12-arrangement study (or a study file) and report",
        description="Trains arrangements × runs × epochs, records every epoch in a SQLite "
                    "store (re-running resumes), and writes a Markdown/HTML report with "
                    "paired confidence intervals for the seed's questions.")
    compare.add_argument("--profile", choices=("quick", "full"), default="full",
                         help="quick: 3 runs × 2 epochs (minutes); full: seed 002's 5 × 5 "
                              "(default)")
    compare.add_argument("--study", metavar="FILE", help="a study file (TOML, JSON or YAML) "
                         "instead of a profile")
    compare.add_argument("--out", metavar="DIR",
                         help="study directory (default: studies/<study name>)")
    compare.add_argument("--jobs", type=int, default=None,
                         help="parallel worker processes, torch threads split between them "
                              "(default: one per CPU core)")
    add_worker_threads_option(compare)
    compare.add_argument("--executor", choices=("local", "ray"), default="local",
                         help="local: --jobs processes on this machine (default); ray: every "
                              "run a Ray task (1 CPU, 1 thread) on a cluster (rnnlab[ray])")
    compare.add_argument("--address", metavar="auto|HOST:PORT",
                         help="with --executor ray: the cluster's head (auto: the one this "
                              "machine runs; default: start Ray on this machine)")
    compare.add_argument("--runs", type=int, help="override the number of runs (more than a "
                         "stored study has: it grows, the trained runs are kept; default: the "
                         "study's)")
    compare.add_argument("--epochs", type=int, help="override the epochs per run (default: the "
                         "study's)")
    compare.add_argument("--data", help="override the dataset: a name or a path (default: the "
                         f"study's; the profiles use imdb-short). {DATA_LOCATIONS_HELP}")
    add_download_option(compare)
    compare.add_argument("--arrangements", help="comma-separated arrangement names (the "
                         "conditions of a study that has them, e.g. baseline,word2vec); only "
                         "these train, and a stored study grows by those it lacks")
    compare.add_argument("--retry-failed", action="store_true",
                         help="train failed (or abandoned) runs again, resuming from their "
                              "checkpoints (default: failed runs stay failed)")
    compare.add_argument("--rebuild-store", action="store_true",
                         help="move a damaged results.sqlite aside (to "
                              "results.sqlite.damaged-<timestamp>) and rebuild it from the "
                              "run checkpoints in runs/ (default: off)")
    compare.add_argument("--no-progress", action="store_true",
                         help="no progress bar; the one-line result of every finished run is "
                              "printed either way (default: a bar on a terminal)")
    compare.set_defaults(handler=run_compare)

    report = subparsers.add_parser(
        "report", help="write the Markdown/HTML report of a stored study",
        description="Reads a study from its result store and writes report.md, report.html "
                    "and figures/*.png.")
    report.add_argument("study", metavar="STUDY",
                        help="a study directory (holding results.sqlite) or a .sqlite file")
    report.add_argument("--name", help="the study's name in the store (default: the only one)")
    report.add_argument("--out", metavar="DIR", help="report directory (default: STUDY/report)")
    report.set_defaults(handler=run_report)


def _study_from_args(args: argparse.Namespace):
    from rnnlab.experiments.study import PROFILES, load_study_file

    names = (tuple(name.strip() for name in args.arrangements.split(",") if name.strip())
             if args.arrangements else None)
    # --arrangements picks the conditions of a study that has them (transfer studies)
    study = load_study_file(args.study, names) if args.study else PROFILES[args.profile]
    if getattr(study, "conditions", None):
        names = None
    overrides = {}
    if args.runs is not None:
        overrides["runs"] = args.runs
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.data is not None:
        overrides["dataset"] = args.data
    if names:
        overrides["arrangements"] = names
        overrides["masked_arrangements"] = tuple(
            name for name in study.masked_arrangements if name in names)
    return study.replace(**overrides) if overrides else study


def run_compare(args: argparse.Namespace) -> int:
    """Exit codes: 0 all runs done, 1 some failed, 2 bad input, 130 interrupted (Ctrl-C)."""
    try:
        return _compare(args)
    except KeyboardInterrupt:  # before the study started: nothing to release
        print("rnnlab compare: interrupted; to resume, run the same command again",
              file=sys.stderr)
        return 130


def _compare(args: argparse.Namespace) -> int:
    from rnnlab.experiments.runner import STORE_FILE, StudyInterruptedError, run_study

    study = _study_from_args(args)  # checked whole: nothing is written for a bad study
    # a missing IMDB is refused (or downloaded) here, not once per worker after the store exists
    prepare_named_data(study.dataset, download=args.download, progress=not args.no_progress)
    study_dir = Path(args.out or Path("studies") / study.name)
    print(f"study {study.name!r}: {_size(study)} × {study.epochs} epochs on {study.dataset} "
          f"→ {study_dir}", flush=True)
    jobs = args.jobs if args.jobs is not None else max(1, os.cpu_count() or 1)
    executor = _executor(args)  # a Ray address that does not answer is refused here
    try:
        with _damage_reported(study_dir / STORE_FILE):
            outcome = run_study(study, study_dir, jobs=jobs, threads=args.threads,
                                progress=not args.no_progress, retry_failed=args.retry_failed,
                                rebuild_store=args.rebuild_store, executor=executor)
    except StudyInterruptedError as interrupted:
        print(f"rnnlab compare: {interrupted}", file=sys.stderr)
        return 130
    return study_exit_code(outcome)


def _size(study) -> str:
    """"4 arrangement conditions × 3 runs = 12 runs": what the study trains, counted as
    expand_runs counts it (each arrangement once per masked value, plus masked twins)."""
    from rnnlab.experiments.study import StudyConfig, study_conditions

    if not isinstance(study, StudyConfig):  # a toy study: cells × lengths, counted by its kind
        return f"{len(study.arrangements)} cell(s) × {study.runs} run(s)"
    conditions = len(study_conditions(study))
    plural = "s" if conditions != 1 else ""
    return (f"{conditions} arrangement condition{plural} × {study.runs} run(s) = "
            f"{conditions * study.runs} runs")


def _executor(args: argparse.Namespace):
    if args.executor == "local":
        if args.address is not None:
            raise ValueError(f"--address {args.address!r} needs --executor ray")
        return None
    from rnnlab.experiments.ray_executor import RayExecutor

    return RayExecutor(args.address)


@contextmanager
def _damage_reported(store_path: Path) -> Iterator[None]:
    """An SQLite error that means a damaged file becomes the store's clear error."""
    from rnnlab.experiments.store_connection import damaged_store_error, is_damage

    try:
        yield
    except sqlite3.DatabaseError as error:
        if not is_damage(error):
            raise
        raise damaged_store_error(store_path, error) from None


def run_report(args: argparse.Namespace) -> int:
    from rnnlab.experiments.report import write_report
    from rnnlab.experiments.runner import REPORT_DIR, STORE_FILE
    from rnnlab.experiments.store import ResultStore

    target = Path(args.study)
    is_store = target.suffix == ".sqlite" or not target.is_dir()
    store_path = target if is_store else target / STORE_FILE
    if not store_path.exists():
        raise FileNotFoundError(f"STUDY={args.study!r} holds no result store ({STORE_FILE}); "
                                "run `rnnlab compare --out DIR` first")
    name = args.name
    with _damage_reported(store_path):
        if name is None:
            with ResultStore(store_path) as store:
                names = [study.name for study in store.studies()]
            if len(names) != 1:
                raise ValueError(f"the store holds studies {names}; choose one with --name")
            name = names[0]
        out_dir = Path(args.out) if args.out else store_path.parent / REPORT_DIR
        paths = write_report(os.fspath(store_path), name, out_dir)
    print(f"report: {paths.html}\n        {paths.markdown}")
    return 0
