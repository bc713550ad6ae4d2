"""How much a competing CPU-bound process slows `rnnlab train` (issue 10, "robust to a busy
machine"): one epoch of seed 002's GRU on imdb-short, alone and beside a busy loop, with
rnnlab's default (OpenMP's own wait policy, threads that follow the free cores) and with a
fixed thread count and sleeping (OMP_WAIT_POLICY=PASSIVE) or spinning (ACTIVE) waiters.

    python benchmarks/bench_busy.py [--threads 2] [--arrangement MS_RSF_GRU]

Prints a Markdown table: wall seconds and the slowdown factor (beside / alone) per setting, and
the fastest "alone" time as the reference for every row.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _burn(stop_after: float) -> None:
    end = time.monotonic() + stop_after
    value = 0
    while time.monotonic() < end:
        value += 1


SETTINGS = {  # label: environment changes (None: remove the variable)
    "rnnlab's default: threads follow the free cores": {"OMP_WAIT_POLICY": None,
                                                        "RNNLAB_THREAD_GOVERNOR": None},
    "fixed threads, OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE",
                                               "RNNLAB_THREAD_GOVERNOR": "0"},
    "fixed threads, OMP_WAIT_POLICY=ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE",
                                              "RNNLAB_THREAD_GOVERNOR": "0"},
}


def train_seconds(args: argparse.Namespace, changes: dict[str, str | None], busy: bool) -> float:
    rnnlab = Path(sys.executable).with_name("rnnlab")
    env = {name: value for name, value in os.environ.items() if name not in changes}
    env.update({name: value for name, value in changes.items() if value is not None})
    burner = None
    if busy:
        burner = multiprocessing.Process(target=_burn, args=(3600.0,), daemon=True)
        burner.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-busy-") as out:
            started = time.perf_counter()
            subprocess.run([str(rnnlab), "train", "--data", "imdb-short", "--arch",
                            args.arrangement, "--epochs", "1", "--threads", str(args.threads),
                            "--out", out, "--no-progress"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            return time.perf_counter() - started
    finally:
        if burner is not None:
            burner.terminate()
            burner.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--arrangement", default="MS_RSF_GRU")
    args = parser.parse_args(argv)
    lines = [f"`python benchmarks/bench_busy.py {' '.join(argv or sys.argv[1:])}` — "
             f"`rnnlab train --arch {args.arrangement} --epochs 1 --threads {args.threads}` on "
             "imdb-short, alone and beside one busy-loop process", "",
             "| setting | alone s | beside a busy process s | slowdown | beside / best alone |",
             "|---|---:|---:|---:|---:|"]
    times = {label: (train_seconds(args, changes, busy=False),
                     train_seconds(args, changes, busy=True))
             for label, changes in SETTINGS.items()}
    best_alone = min(alone for alone, _ in times.values())
    for label, (alone, beside) in times.items():
        lines.append(f"| {label} | {alone:.1f} | {beside:.1f} | {beside / alone:.2f}× | "
                     f"{beside / best_alone:.2f}× |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
