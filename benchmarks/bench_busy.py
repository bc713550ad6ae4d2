"""How much a competing CPU-bound process slows `rnnlab train` (issue 10, "robust to a busy
machine"): one epoch of seed 002's GRU on imdb-short, alone and beside a busy loop, with the
CLI's default wait policy (OMP_WAIT_POLICY=PASSIVE) and with spinning threads (ACTIVE).

    python benchmarks/bench_busy.py [--threads 2] [--arrangement MS_RSF_GRU]

Prints a Markdown table: wall seconds and the slowdown factor (beside / alone) per policy.
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


def train_seconds(args: argparse.Namespace, policy: str, busy: bool) -> float:
    rnnlab = Path(sys.executable).with_name("rnnlab")
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
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
             "| OMP_WAIT_POLICY | alone s | beside a busy process s | slowdown |",
             "|---|---:|---:|---:|"]
    for policy in ("PASSIVE", "ACTIVE"):
        alone = train_seconds(args, policy, busy=False)
        beside = train_seconds(args, policy, busy=True)
        label = f"{policy}" + (" (rnnlab's default)" if policy == "PASSIVE" else "")
        lines.append(f"| {label} | {alone:.1f} | {beside:.1f} | {beside / alone:.2f}× |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
