"""Statistics for comparing arrangements: summaries, paired differences, t intervals.

Runs are paired by run index: run r of every arrangement shares seed s_r (same initial
weights for shared parts, same batch order), so ``right[r] - left[r]`` removes the
run-to-run luck both sides share. Differences are always *right minus left*, as in
seed 002's tables ("RST - RSF"), so a positive difference means the right side wins.

Worked example (differences [1, 2, 3])::

    mean 2, sample std 1, n 3, t(0.975, 2) = 4.303
    95 % CI = 2 ± 4.303 · 1/√3 = [-0.484, 4.484]  -> crosses 0: "no clear difference"

Pooling a question's pairs (e.g. the six RST-vs-RSF pairs): the run is the unit of
replication, because every pair's run r shares seed s_r, so the pairs' differences in
one run are not independent of each other. For each run index r present in *every*
pair, average the pairs' differences, D_r = mean_p (right_p[r] - left_p[r]); the pooled
difference is the mean of D_r (with complete runs, exactly the mean of the per-pair
mean differences) and its interval a t interval over the D_r (n_runs - 1 degrees of
freedom). Treating all pair×run differences as independent would overstate n.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
from scipy import stats as scipy_stats

__all__ = [
    "AccuracySummary",
    "ConfidenceInterval",
    "PairedComparison",
    "PooledComparison",
    "Verdict",
    "paired_comparison",
    "pool_comparisons",
    "summarize",
    "t_interval",
    "verdict_of",
]


@dataclass(frozen=True)
class AccuracySummary:
    """Summary of a sample; ``std`` is the sample standard deviation (ddof=1), NaN if n < 2."""

    n: int
    mean: float
    std: float
    minimum: float
    maximum: float


def summarize(values: Sequence[float]) -> AccuracySummary:
    """n, mean, sample std, min and max of ``values`` (all NaN when empty)."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return AccuracySummary(0, math.nan, math.nan, math.nan, math.nan)
    std = float(array.std(ddof=1)) if array.size >= 2 else math.nan
    return AccuracySummary(
        n=int(array.size),
        mean=float(array.mean()),
        std=std,
        minimum=float(array.min()),
        maximum=float(array.max()),
    )


@dataclass(frozen=True)
class ConfidenceInterval:
    low: float
    high: float
    level: float  # e.g. 0.95

    def contains_zero(self) -> bool:
        return self.low <= 0.0 <= self.high


def t_interval(values: Sequence[float], level: float = 0.95) -> ConfidenceInterval | None:
    """Student-t interval for the mean of ``values`` (n - 1 dof); None when n < 2.

    With identical values the interval has zero width (the data show no spread).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    array = np.asarray(values, dtype=float)
    if array.size < 2:
        return None
    mean = float(array.mean())
    standard_error = float(array.std(ddof=1)) / math.sqrt(array.size)
    half_width = float(scipy_stats.t.ppf(0.5 + level / 2, df=array.size - 1)) * standard_error
    return ConfidenceInterval(mean - half_width, mean + half_width, level)


class Verdict(str, Enum):
    """How the right side compares with the left, judged by the interval."""

    BETTER = "better"
    WORSE = "worse"
    NO_CLEAR_DIFFERENCE = "no clear difference"
    TOO_FEW_RUNS = "interval needs ≥ 2 runs"


def verdict_of(interval: ConfidenceInterval | None) -> Verdict:
    """Better/worse only when the whole interval is on one side of 0."""
    if interval is None:
        return Verdict.TOO_FEW_RUNS
    if interval.contains_zero():
        return Verdict.NO_CLEAR_DIFFERENCE
    return Verdict.BETTER if interval.low > 0 else Verdict.WORSE


@dataclass(frozen=True)
class PairedComparison:
    """Right minus left for one pair of arrangements, paired by run index."""

    left: str
    right: str
    run_indices: tuple[int, ...]  # runs both sides have, ascending
    left_values: tuple[float, ...]
    right_values: tuple[float, ...]
    differences: tuple[float, ...]  # right - left, per run index
    mean_difference: float  # NaN when no run is paired
    interval: ConfidenceInterval | None  # None when fewer than 2 paired runs
    right_wins: int  # runs where right > left
    ties: int  # runs where right == left
    verdict: Verdict

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def mean_left(self) -> float:
        return float(np.mean(self.left_values)) if self.left_values else math.nan

    @property
    def mean_right(self) -> float:
        return float(np.mean(self.right_values)) if self.right_values else math.nan

    @property
    def wins(self) -> str:
        """Runs the right side wins, seed-style: ``"4/5"``."""
        return f"{self.right_wins}/{self.n}"


def paired_comparison(
    left: str,
    left_by_run: Mapping[int, float],
    right: str,
    right_by_run: Mapping[int, float],
    level: float = 0.95,
) -> PairedComparison:
    """Compare ``right`` with ``left`` on the run indices both have.

    >>> c = paired_comparison("A", {0: 0.5, 1: 0.5, 2: 0.5}, "B", {0: 0.52, 1: 0.53, 2: 0.54})
    >>> round(c.mean_difference, 4), c.wins, c.verdict.value  # CI [0.005, 0.055]
    (0.03, '3/3', 'better')
    """
    run_indices = tuple(sorted(set(left_by_run) & set(right_by_run)))
    left_values = tuple(float(left_by_run[index]) for index in run_indices)
    right_values = tuple(float(right_by_run[index]) for index in run_indices)
    differences = tuple(r - lv for lv, r in zip(left_values, right_values, strict=True))
    interval = t_interval(differences, level)
    return PairedComparison(
        left=left,
        right=right,
        run_indices=run_indices,
        left_values=left_values,
        right_values=right_values,
        differences=differences,
        mean_difference=float(np.mean(differences)) if differences else math.nan,
        interval=interval,
        right_wins=sum(difference > 0 for difference in differences),
        ties=sum(difference == 0 for difference in differences),
        verdict=verdict_of(interval),
    )


@dataclass(frozen=True)
class PooledComparison:
    """A question's pairs taken together (method in the module docstring)."""

    pairs: tuple[PairedComparison, ...]
    run_indices: tuple[int, ...]  # runs present in every pair: the pooled sample
    excluded_run_indices: tuple[int, ...]  # paired somewhere but missing in some pair
    per_run_differences: tuple[float, ...]  # D_r, the mean over pairs of run r's differences
    mean_difference: float
    interval: ConfidenceInterval | None
    verdict: Verdict

    @property
    def pairs_won(self) -> int:
        """Pairs whose mean difference is positive (the seed's "4/6")."""
        return sum(pair.n > 0 and pair.mean_difference > 0 for pair in self.pairs)

    @property
    def pairs_compared(self) -> int:
        return sum(pair.n > 0 for pair in self.pairs)

    @property
    def runs_won(self) -> int:
        """Paired runs, over all pairs, that the right side wins."""
        return sum(pair.right_wins for pair in self.pairs)

    @property
    def runs_compared(self) -> int:
        return sum(pair.n for pair in self.pairs)

    @property
    def pair_wins(self) -> str:
        return f"{self.pairs_won}/{self.pairs_compared}"

    @property
    def run_wins(self) -> str:
        return f"{self.runs_won}/{self.runs_compared}"


def pool_comparisons(pairs: Sequence[PairedComparison], level: float = 0.95) -> PooledComparison:
    """Pool paired comparisons by run index (see the module docstring for why)."""
    by_pair = [dict(zip(pair.run_indices, pair.differences, strict=True)) for pair in pairs]
    every_run = sorted(set().union(*by_pair)) if by_pair else []
    complete = [index for index in every_run if all(index in pair for pair in by_pair)]
    per_run = tuple(float(np.mean([pair[index] for pair in by_pair])) for index in complete)
    interval = t_interval(per_run, level)
    return PooledComparison(
        pairs=tuple(pairs),
        run_indices=tuple(complete),
        excluded_run_indices=tuple(index for index in every_run if index not in complete),
        per_run_differences=per_run,
        mean_difference=float(np.mean(per_run)) if per_run else math.nan,
        interval=interval,
        verdict=verdict_of(interval),
    )
