"""One training step (batch 32, time 100, input 64, hidden 128: seed 002's size) alone and
beside one busy-loop process, for each way of running 2 torch threads: OpenMP's default
(spinning waiters), OMP_WAIT_POLICY=PASSIVE (sleeping waiters), 1 thread, and rnnlab's thread
governor (OpenMP's default, threads that follow the free cores: what the CLI does).

    python benchmarks/wait_policy_step.py              # nn.LSTM and rnnlab.GRU, a table
    python benchmarks/wait_policy_step.py --one SETTING CELL   # one measurement (internal)

Each measurement is a fresh process (OpenMP reads its wait policy once, at load) timing
steps for 4 s after 3 warm-up steps; the table gives milliseconds per step.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

SETTINGS = {  # name: (environment changes, torch threads, governed)
    "2 threads, OpenMP default (spinning)": ({"OMP_WAIT_POLICY": None}, 2, False),
    "2 threads, OMP_WAIT_POLICY=PASSIVE": ({"OMP_WAIT_POLICY": "PASSIVE"}, 2, False),
    "1 thread": ({"OMP_WAIT_POLICY": None}, 1, False),
    "2 threads, rnnlab's governor (the CLI's default)": ({"OMP_WAIT_POLICY": None}, 2, True),
}
CELLS = ("nn.LSTM", "rnnlab.GRU")


def one(setting: str, cell: str) -> float:
    import torch

    import rnnlab
    from rnnlab.cpu_threads import govern_threads

    _, threads, governed = SETTINGS[setting]
    if governed:
        govern_threads(threads)
    else:
        torch.set_num_threads(threads)
    x = torch.randn(32, 100, 64)
    model = (torch.nn.LSTM(64, 128, batch_first=True) if cell == "nn.LSTM"
             else rnnlab.GRU(64, 128, batch_first=True))

    def step() -> None:
        out = model(x)
        (out[0] if isinstance(out, tuple) else out.output).sum().backward()

    for _ in range(3):
        step()
    started, steps = time.perf_counter(), 0
    while time.perf_counter() - started < 4:
        step()
        steps += 1
    return (time.perf_counter() - started) / steps * 1e3


def measure(setting: str, cell: str, busy: bool) -> float:
    changes = SETTINGS[setting][0]
    env = {name: value for name, value in os.environ.items() if name not in changes}
    env.update({name: value for name, value in changes.items() if value is not None})
    burner = (subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None)
    try:
        done = subprocess.run([sys.executable, __file__, "--one", setting, cell], env=env,
                              check=True, capture_output=True, text=True)
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()
    return float(done.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=2, metavar=("SETTING", "CELL"))
    args = parser.parse_args(argv)
    if args.one:
        print(f"{one(*args.one):.2f}")
        return 0
    header = " | ".join(f"{cell} alone | {cell} beside" for cell in CELLS)
    lines = ["ms per training step (32, 100, 64, 128), alone and beside one busy process", "",
             f"| setting | {header} |", "|---|" + "---:|" * (2 * len(CELLS))]
    for setting in SETTINGS:
        cells = [f"{measure(setting, cell, busy):.1f}" for cell in CELLS
                 for busy in (False, True)]
        lines.append(f"| {setting} | {' | '.join(cells)} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
