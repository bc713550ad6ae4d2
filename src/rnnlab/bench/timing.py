"""Timing helpers: interleaved repeats and medians, so slow drift hits every contender alike."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one contender: median and spread over ``repeats`` measurements."""

    name: str
    median: float
    minimum: float
    maximum: float
    repeats: int


CLOCKS: dict[str, Callable[[], float]] = {
    "wall": time.perf_counter,
    # This process's CPU seconds: on a busy machine they still measure the work done (other
    # processes' time slices do not count), though shared caches and cores still cost.
    "cpu": time.process_time,
}


def time_interleaved(
    contenders: dict[str, Callable[[], object]], *, repeats: int = 7, warmup: int = 2,
    min_seconds: float = 0.05, clock: str = "wall",
) -> dict[str, Timing]:
    """Time each callable, alternating between them on every repeat.

    Each measurement runs a callable enough times to last ``min_seconds`` (calibrated during
    warm-up) and records the mean seconds per call, on ``clock`` ("wall" or "cpu").
    """
    now = CLOCKS[clock]
    calls = {}
    for name, function in contenders.items():
        for _ in range(warmup):
            function()
        start = now()
        function()
        once = max(now() - start, 1e-6)
        calls[name] = max(1, int(min_seconds / once))
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, function in contenders.items():
            start = now()
            for _ in range(calls[name]):
                function()
            samples[name].append((now() - start) / calls[name])
    return {
        name: Timing(name, statistics.median(values), min(values), max(values), repeats)
        for name, values in samples.items()
    }


def cpu_ms(run: Callable[[], object]) -> float:
    """This process's CPU milliseconds for one call of ``run`` (the A/B scripts' clock)."""
    start = time.process_time()
    run()
    return (time.process_time() - start) * 1e3


def ab_arguments(description: str) -> tuple[tuple[int, int, int, int], int, str]:
    """The A/B scripts' command line: ``--shape B,T,I,H`` (seed 002's size by default) and
    ``--repeats``. Returns ``((batch, time, input, hidden), repeats, shape text)``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--shape", default="32,100,64,128", help="batch,time,input,hidden")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    batch, time_steps, inputs, hidden = (int(value) for value in args.shape.split(","))
    return (batch, time_steps, inputs, hidden), args.repeats, args.shape
