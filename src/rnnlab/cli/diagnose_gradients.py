"""``rnnlab diagnose gradients``: gradient norm against time lag, per cell or for a trained run.

    rnnlab diagnose gradients --cell rnn,gru,lstm                  # at init, seed-002 sizes
    rnnlab diagnose gradients --cell all --trained-steps 200 --seeds 0,1,2 --out gf/
    rnnlab diagnose gradients --cell mypackage.cells:MyCell        # a user cell
    rnnlab diagnose gradients runs/x                               # a classifier or LM run
    rnnlab diagnose gradients runs/rnn runs/gru runs/lstm          # several, side by side

Prints the decay table (slope of ln ‖∂L/∂h_{T−1−k}‖ against k, the factor per step, and the
lag where the median norm falls below 1e-3 of its k = 0 value); ``--out`` also writes the
log-scale plot, CSV and JSON (see :mod:`rnnlab.diagnostics.gradient_flow_report`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from rnnlab.cli.common import add_threads_option, apply_threads, check_out_dir

QUANTITIES = ("hidden", "cell", "input")


def register(views: argparse._SubParsersAction) -> None:
    parser = views.add_parser(
        "gradients", help="gradient norm vs time lag, per cell or for a trained run",
        description="The norm of the gradient of the loss at the last step with respect to "
                    "the hidden state (and cell state, and input) k steps earlier, median and "
                    "quartiles over a batch; per curve the fitted decay rate and the lag where "
                    "the norm falls below 1e-3 of its value at k = 0.")
    parser.add_argument("runs", nargs="*", metavar="RUN_DIR",
                        help="classifier or language-model run directories (their --out)")
    parser.add_argument("--cell", metavar="CELLS",
                        help="comma-separated cells measured on the adding problem: rnn "
                             "(tanh), relu, gru, lstm, peephole, cifg, layernorm, all, or a "
                             "user cell as package.module:CellClass (no default: give --cell or "
                             "RUN_DIR)")
    sizes = parser.add_argument_group("sizes (default: seed 002's model)")
    sizes.add_argument("--batch", type=int, default=32, help="sequences (default 32)")
    sizes.add_argument("--time", type=int, default=None,
                       help="steps per sequence (default 100; a classifier run reads its "
                            "maxlen)")
    sizes.add_argument("--input", type=int, default=64, help="--cell: input features (64)")
    sizes.add_argument("--hidden", type=int, default=128, help="--cell: hidden units (128)")
    parser.add_argument("--init", choices=("torch", "keras"), default="torch",
                        help="--cell: each cell's own initialisation (torch, default) or "
                             "seed 002's Keras one (orthogonal W_hh, forget bias 1)")
    parser.add_argument("--trained-steps", type=int, default=0, metavar="N",
                        help="--cell: also measure after N Adam steps on the adding problem")
    parser.add_argument("--seeds", default="0",
                        help="comma-separated seeds (weights and batches); default 0")
    parser.add_argument("--data", help="RUN_DIR of a classifier: its dataset (default: the "
                                       "one the run names)")
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"),
                        help="RUN_DIR: the split the batch is drawn from (default test)")
    parser.add_argument("--quantity", choices=QUANTITIES, default="hidden",
                        help="what the table and plot show (CSV/JSON hold all); default hidden")
    parser.add_argument("--out", metavar="DIR",
                        help="write gradient_flow.png, *_decay.csv, *_curves.csv and .json")
    add_threads_option(parser)
    parser.set_defaults(handler=run_gradients)


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        seeds = []
    if not seeds:
        raise ValueError(f"--seeds must be comma-separated integers, e.g. 0,1,2; got {text!r}")
    return list(dict.fromkeys(seeds))


def _check_args(args: argparse.Namespace) -> list[int]:
    if bool(args.runs) == (args.cell is not None):
        raise ValueError("give either --cell CELLS (e.g. --cell rnn,gru,lstm) or RUN_DIR (a "
                         "trained run), not both or neither")
    if args.runs:
        for option, value, default in (("--trained-steps", args.trained_steps, 0),
                                       ("--input", args.input, 64),
                                       ("--hidden", args.hidden, 128),
                                       ("--init", args.init, "torch")):
            if value != default:
                raise ValueError(f"{option} applies to --cell; a run directory has its own "
                                 "model, trained already (it is measured trained and at init)")
    elif args.data is not None:
        raise ValueError("--data applies to a classifier RUN_DIR, not to --cell")
    if args.trained_steps < 0:
        raise ValueError(f"--trained-steps must be >= 0, got {args.trained_steps}")
    if args.time is not None and args.time < 2:
        raise ValueError(f"--time must be >= 2 (lags 0 … T−1 and a decay to fit), got "
                         f"{args.time}")
    if args.out is not None:
        check_out_dir(args.out)
    return _seeds(args.seeds)


def run_gradients(args: argparse.Namespace) -> int:
    from rnnlab.diagnostics.gradient_flow_report import format_table, write_report
    from rnnlab.diagnostics.gradient_flow_setups import (
        Sizes,
        measure_cell,
        measure_run,
        resolve_cells,
    )

    seeds = _check_args(args)
    apply_threads(args)
    measured = []
    if args.cell is not None:
        cells = resolve_cells(args.cell)
        sizes = Sizes(batch=args.batch, time=100 if args.time is None else args.time,
                      input_size=args.input, hidden_size=args.hidden)
        what = (f"adding problem, batch {sizes.batch}, time {sizes.time}, input "
                f"{sizes.input_size}, hidden {sizes.hidden_size}, init {args.init}")
        for name, cell in cells:
            for seed in seeds:
                _progress(f"{name}, seed {seed}")
                measured += measure_cell(name, cell, sizes, seed=seed, init=args.init,
                                         trained_steps=args.trained_steps)
    else:
        labels = [Path(run).name for run in args.runs]
        if len(set(labels)) < len(labels):
            labels = list(args.runs)  # two runs of one name: tell them apart by path
        for run, label in zip(args.runs, labels):
            for seed in seeds:
                _progress(f"{run}, seed {seed}")
                measured += measure_run(run, batch=args.batch, time=args.time, data=args.data,
                                        split=args.split, seed=seed, label=label)
        what = (f"{'run' if len(args.runs) == 1 else 'runs'} {', '.join(args.runs)}, "
                f"{measured[0].flow.batch} sequences × {measured[0].flow.time}")
    print(f"gradient flow ({args.quantity}): {what}; seeds {','.join(map(str, seeds))}")
    print(format_table(measured, args.quantity))
    if args.cell is not None:
        print("loss: mean squared error at the last step; baseline 0.167 (always predicting 1)")
    if args.out is not None:
        paths = write_report(args.out, measured, command=_command(args),
                             quantity=args.quantity, title=what)
        for path in paths:
            print(f"wrote {path}")
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this measurement (every option spelled out)."""
    words = ["rnnlab", "diagnose", "gradients"]
    words += args.runs if args.runs else ["--cell", args.cell]
    words += ["--batch", str(args.batch)]
    if args.time is not None:
        words += ["--time", str(args.time)]
    if args.cell is not None:
        words += ["--input", str(args.input), "--hidden", str(args.hidden), "--init", args.init,
                  "--trained-steps", str(args.trained_steps)]
    else:
        words += [*(["--data", args.data] if args.data else []), "--split", args.split]
    words += ["--seeds", args.seeds, "--quantity", args.quantity, "--out", args.out]
    return shlex.join(words)


def _progress(message: str) -> None:
    print(f"measuring {message} …", file=sys.stderr, flush=True)
