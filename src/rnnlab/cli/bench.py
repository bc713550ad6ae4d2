"""``rnnlab bench``: speed of rnnlab's layers against torch.nn, measured in the same run."""

from __future__ import annotations

import argparse
import platform
import sys

import torch

from rnnlab.cli.common import add_threads_option, apply_threads


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="benchmark rnnlab layers against torch.nn (ratios and GFLOP/s)",
        description="Times rnnlab.LSTM/GRU (with and without lengths) and the variant cells "
                    "against torch.nn in the same process and prints a Markdown table.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="only the smallest shape and 3 repeats (a smoke run)")
    parser.add_argument("--no-variants", action="store_true",
                        help="skip the peephole/cifg/layernorm cells")
    parser.add_argument("--cases", default="", metavar="PREFIXES",
                        help="only the cases whose name starts with one of these "
                             "comma-separated prefixes, e.g. 'user,lstm+lengths' "
                             "(default: every case)")
    parser.add_argument("--shape", action="append", default=None, metavar="B,T,I,H",
                        type=_shape, help="time this shape (batch, time, input, hidden) "
                        "instead of the default three; repeat for more")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats per case")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall seconds, or this process's CPU seconds, which still "
                             "compare the work on a busy machine (default: %(default)s)")
    add_threads_option(parser, help="torch CPU threads for every contender, fixed for the whole "
                       "run (default: torch's choice, one per core)")
    parser.add_argument("--output", default=None, help="also write the table to this file")
    parser.set_defaults(handler=run)


def _shape(text: str) -> tuple[int, int, int, int]:
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"a shape is four positive integers batch,time,input,hidden, e.g. 32,100,64,128; "
            f"got {text!r}")
    return shape  # type: ignore[return-value]


def _load() -> str:
    import os

    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run(args: argparse.Namespace) -> int:
    from rnnlab.bench.layers import SHAPES, bench_layers, rows_to_markdown, sgemm_gflops
    from rnnlab.core import kernels

    apply_threads(args, follow_free_cores=False)  # contenders compared at one thread count
    shapes = tuple(args.shape) if args.shape else SHAPES[:1] if args.quick else SHAPES
    repeats = 3 if args.quick else args.repeats
    sgemm_before = sgemm_gflops(clock=args.clock)
    cases = tuple(part.strip() for part in args.cases.split(",") if part.strip())
    rows = bench_layers(shapes, repeats=repeats, variants=not args.no_variants,
                        progress=lambda what: print(f"  timing {what}", file=sys.stderr),
                        clock=args.clock, cases=cases)
    if not rows:
        print(f"rnnlab bench: error: --cases {args.cases!r} matches no case; names start "
              "with lstm, gru, peephole, cifg, layernorm or user", file=sys.stderr)
        return 2
    # the machine's rate: the better of before and after the run
    sgemm = max(sgemm_before, sgemm_gflops(clock=args.clock))
    header = (f"{args.clock} clock, load average {_load()}; "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"{_cpu_name()}, Python {platform.python_version()}; "
              f"sgemm (1024³, float32) {sgemm:.0f} GFLOP/s in this run; {kernels.status()}")
    table = f"{header}\n\n{rows_to_markdown(rows, sgemm)}\n"
    print(table)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as stream:
            stream.write(table)
    return 0
