"""``rnnlab toys``: toy tasks whose answer is known, cells side by side (seed 003).

    rnnlab toys adding --profile quick                   # seconds: a first look
    rnnlab toys adding --cells rnn,gru,lstm --T 200 --steps 4000 --threads 1
    rnnlab toys copy --T 100,200
    rnnlab toys quotes --data my_book.txt                # the quote unit of your own text
    rnnlab toys quotes --layers 2 --lr-decay 0.9 --lr-decay-start 10000   # char-rnn's recipe

Each call is a study run by the same runner as ``rnnlab compare`` (re-running resumes; the
report in OUT/report/ has loss against steps beside the baseline, per cell and T, and paired
differences between cells). ``rnnlab compare --study toys-adding`` runs a bundled profile too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from rnnlab.cli.common import (
    DefaultsHelpFormatter,
    add_worker_threads_option,
    check_out_dir,
    positive_float,
    study_exit_code,
)

TASKS = ("adding", "copy", "quotes")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "toys", help="toy tasks with known answers: adding, copy memory, quote detection",
        description="Train RNN/GRU/LSTM (or any rnnlab cell) side by side on a toy task whose "
                    "answer is known, through the study runner: runs × seeds, a resumable "
                    "store, a report of loss against steps beside the task's baseline.",
        epilog=PROFILES_HELP, formatter_class=_ProfilesFormatter)
    parser.add_argument("task", choices=TASKS, help="adding (Hochreiter & Schmidhuber 1997), "
                        "copy (Arjovsky et al. 2016) or quotes (Karpathy et al. 2015)")
    parser.add_argument("--profile", choices=("quick", "default"), default="default",
                        help="quick: seconds, for a first look or CI; default: <= 15 min on "
                             "2 cores (default)")
    parser.add_argument("--cells", help="comma-separated cells, e.g. rnn,gru,lstm,peephole,cifg,"
                                        "layernorm,rnn_relu (default: the profile's, below)")
    parser.add_argument("--T", dest="lengths", help="comma-separated sequence lengths for "
                                                    "adding/copy, e.g. 100,200 (default: the "
                                                    "profile's, below)")
    parser.add_argument("--runs", type=_positive, help="seeds per cell and T (default: the "
                                                       "profile's, below)")
    parser.add_argument("--steps", type=_positive, help="training steps per run (a multiple "
                                                        "of the profile's eval_every; default: the "
                                                        "profile's, below)")
    parser.add_argument("--hidden", type=_positive, help="units of the recurrent layer (default: "
                                                         "the profile's, below)")
    parser.add_argument("--layers", type=_positive, help="stacked recurrent layers (default: "
                        "1; the head reads the top one)")
    parser.add_argument("--lr", type=positive_float, help="Adam's learning rate (default: the "
                        "profile's, 3e-3)")
    parser.add_argument("--lr-decay", type=positive_float, metavar="FACTOR",
                        help="multiply the learning rate by FACTOR (in (0, 1]) every "
                             "--lr-decay-every steps from step --lr-decay-start on, as "
                             "char-rnn does (default: 1, constant)")
    parser.add_argument("--lr-decay-every", type=_positive, metavar="STEPS",
                        help="steps between decays (default 1000)")
    parser.add_argument("--lr-decay-start", type=int, metavar="STEP",
                        help="the step decay starts from (default 0)")
    parser.add_argument("--forget-bias", type=float, help="start the LSTM forget-gate bias at "
                        "this value (1 is Jozefowicz et al.'s; default: torch's init)")
    parser.add_argument("--data", help="quotes: a UTF-8 text file with quotations (default: "
                                       "Brown's running text)")
    parser.add_argument("--name", help="the study's name in the store (default: the profile's, "
                                       "with a suffix when options other than --cells, --T and "
                                       "--runs change it; those grow the stored study)")
    parser.add_argument("--out", metavar="DIR", help="study directory (default: "
                                                     "studies/<name>)")
    parser.add_argument("--jobs", type=_positive, default=1, help="parallel worker processes "
                                                                  "(default 1)")
    add_worker_threads_option(parser)
    parser.add_argument("--retry-failed", action="store_true", help="train failed runs again")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_toys)


# The bundled profiles (rnnlab.experiments.toy_profiles.TOY_PROFILES, which imports torch, so
# the table is written out here for --help; tests/cli/test_toys_cli.py checks it row by row).
PROFILES_HELP = """profiles (what an option left out takes):
  task    profile  cells              T                 runs  steps  hidden
  adding  quick    rnn_tanh,gru,lstm  50                3     300    16
  copy    quick    rnn_tanh,gru,lstm  10                3     300    16
  quotes  quick    lstm               -                 1     200    64
  adding  default  rnn_tanh,gru,lstm  50,100,200,400    3     1000   32
  copy    default  rnn_tanh,gru,lstm  100,200           3     1000   32
  quotes  default  lstm               -                 3     3000   128
Every profile: 1 layer, batch 32, Adam lr 3e-3. The long lags need more steps than the
default profile's (benchmarks/RESULTS.md, "Toy tasks": e.g. --T 200 --steps 12000)."""


class _ProfilesFormatter(DefaultsHelpFormatter):
    """Keeps the profiles table's lines as written (argparse would re-flow the epilog)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


GROWS_IN_PLACE = ("cells", "lengths", "runs")


def _lengths(text: str, task: str) -> tuple[int, ...]:
    if task == "quotes":
        raise ValueError("--T is for adding and copy; quotes trains a language model on text "
                         "(drop --T)")
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"--T must be comma-separated integers, e.g. 100,200, got "
                         f"{text!r}") from None


def study_from_args(args: argparse.Namespace):
    """The bundled profile of the task with the command line's changes (checked whole)."""
    from rnnlab.experiments.toy_profiles import toy_profile

    study = toy_profile(args.task, args.profile)
    changes: dict = {}
    if args.cells:
        changes["cells"] = tuple(cell.strip() for cell in args.cells.split(",") if cell.strip())
    if args.lengths:
        changes["lengths"] = _lengths(args.lengths, args.task)
    if args.runs is not None:
        changes["runs"] = args.runs
    training = {key: value for key, value in (
        ("steps", args.steps), ("lr", args.lr), ("lr_decay", args.lr_decay),
        ("lr_decay_every", args.lr_decay_every), ("lr_decay_start", args.lr_decay_start))
        if value is not None}
    if training:
        changes["training"] = {**study.training, **training}
    model = {key: value for key, value in (
        ("hidden_size", args.hidden), ("layers", args.layers), ("forget_bias", args.forget_bias))
        if value is not None}
    if model:
        changes["model"] = {**study.model, **model}
    if args.data is not None:
        if args.task != "quotes":
            raise ValueError(f"--data is for quotes (a text with quotations); {args.task} "
                             "generates its data from the seed")
        changes["dataset"] = args.data
    # The default name says what the runs measure, not how many there are: cells, lengths and
    # runs grow a stored study (``--T 400`` after ``--T 200`` adds T = 400 beside it).
    identity = {key: value for key, value in changes.items() if key not in GROWS_IN_PLACE}
    if identity:
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=list).encode())
        changes["name"] = f"{study.name}-{digest.hexdigest()[:8]}"
    if args.name:
        changes["name"] = args.name
    return study.replace(**changes) if changes else study


def run_toys(args: argparse.Namespace) -> int:
    """Exit codes as ``rnnlab compare``: 0 done, 1 some runs failed, 2 bad input, 130 Ctrl-C."""
    import sys

    from rnnlab.experiments.runner import StudyInterruptedError, run_study

    study = study_from_args(args)  # a bad option is refused before anything is written
    study_dir = check_out_dir(args.out) if args.out else Path("studies") / study.name
    lengths = ", ".join(f"T={T}" for T in study.lengths) or study.dataset
    print(f"study {study.name!r}: {study.task}, cells {', '.join(study.cells)} × {lengths} × "
          f"{study.runs} runs × {study.train_config().steps} steps → {study_dir}", flush=True)
    try:
        outcome = run_study(study, study_dir, jobs=args.jobs, threads=args.threads,
                            progress=not args.no_progress, retry_failed=args.retry_failed)
    except StudyInterruptedError as interrupted:
        print(f"rnnlab toys: {interrupted}", file=sys.stderr)
        return 130
    return study_exit_code(outcome)
