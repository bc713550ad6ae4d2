"""Statistics on hand-made numbers.

Golden values were computed by hand: t(0.975, 2) = 4.302653 and t(0.975, 3) = 3.182446
(any t table), sample standard deviations with n - 1.
"""

import math

import pytest

from rnnlab.experiments.stats import (
    ConfidenceInterval,
    Verdict,
    paired_comparison,
    pool_comparisons,
    summarize,
    t_interval,
    verdict_of,
)

T_975_DF2 = 4.302653
T_975_DF3 = 3.182446


def test_summarize_gives_n_mean_sample_std_min_max():
    summary = summarize([0.8, 0.9, 0.7])
    assert summary.n == 3
    assert summary.mean == pytest.approx(0.8)
    assert summary.std == pytest.approx(0.1)  # sqrt((0.01 + 0.01 + 0) / 2)
    assert (summary.minimum, summary.maximum) == (0.7, 0.9)


def test_summarize_of_one_value_has_no_std_and_of_none_is_all_nan():
    one = summarize([0.75])
    assert (one.n, one.mean, one.minimum, one.maximum) == (1, 0.75, 0.75, 0.75)
    assert math.isnan(one.std)
    empty = summarize([])
    assert empty.n == 0 and math.isnan(empty.mean)


def test_t_interval_of_1_2_3_is_2_plus_minus_t_times_1_over_sqrt3():
    interval = t_interval([1, 2, 3])
    half_width = T_975_DF2 * 1 / math.sqrt(3)  # 2.484138
    assert interval.low == pytest.approx(2 - half_width, abs=1e-5)
    assert interval.high == pytest.approx(2 + half_width, abs=1e-5)
    assert (round(interval.low, 3), round(interval.high, 3)) == (-0.484, 4.484)
    assert verdict_of(interval) is Verdict.NO_CLEAR_DIFFERENCE


def test_t_interval_needs_two_values_and_a_level_in_0_1():
    assert t_interval([5.0]) is None
    assert t_interval([]) is None
    assert verdict_of(None) is Verdict.TOO_FEW_RUNS
    assert Verdict.TOO_FEW_RUNS.value == "interval needs ≥ 2 runs"
    with pytest.raises(ValueError, match="level"):
        t_interval([1, 2], level=95)


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [
        (0.5, 5.5, Verdict.BETTER),
        (-5.5, -0.5, Verdict.WORSE),
        (-0.5, 5.5, Verdict.NO_CLEAR_DIFFERENCE),
        (0.0, 5.5, Verdict.NO_CLEAR_DIFFERENCE),  # touching 0 is not clear either
        (0.0, 0.0, Verdict.NO_CLEAR_DIFFERENCE),
    ],
)
def test_verdict_is_better_or_worse_only_when_interval_excludes_zero(low, high, verdict):
    assert verdict_of(ConfidenceInterval(low, high, 0.95)) is verdict


def test_paired_comparison_pairs_by_run_index_and_subtracts_left_from_right():
    left = {0: 0.80, 1: 0.82, 2: 0.78, 3: 0.81}
    right = {0: 0.83, 1: 0.81, 2: 0.80, 3: 0.85, 4: 0.90}  # run 4 has no partner
    comparison = paired_comparison("SS_RSF_LSTM", left, "SS_RST_LSTM", right)
    assert comparison.run_indices == (0, 1, 2, 3)
    assert comparison.differences == pytest.approx((0.03, -0.01, 0.02, 0.04))
    assert comparison.mean_difference == pytest.approx(0.02)
    assert comparison.mean_left == pytest.approx(0.8025)
    assert comparison.mean_right == pytest.approx(0.8225)
    # sample std of the differences: sqrt((1 + 9 + 0 + 4) e-4 / 3) = 0.0216025
    half_width = T_975_DF3 * 0.0216025 / 2
    assert comparison.interval.low == pytest.approx(0.02 - half_width, abs=1e-6)
    assert comparison.interval.high == pytest.approx(0.02 + half_width, abs=1e-6)
    assert comparison.wins == "3/4"
    assert comparison.verdict is Verdict.NO_CLEAR_DIFFERENCE


def test_paired_comparison_says_better_and_worse_when_the_interval_allows():
    left = {0: 0.0, 1: 0.0, 2: 0.0}
    better = paired_comparison("L", left, "R", {0: 2.0, 1: 3.0, 2: 4.0})
    # 3 ± 4.302653 / sqrt(3) = [0.516, 5.484]
    assert (round(better.interval.low, 3), round(better.interval.high, 3)) == (0.516, 5.484)
    assert better.verdict is Verdict.BETTER and better.wins == "3/3"
    worse = paired_comparison("L", left, "R", {0: -2.0, 1: -3.0, 2: -4.0})
    assert worse.verdict is Verdict.WORSE and worse.wins == "0/3"


def test_paired_comparison_counts_ties_and_handles_one_or_no_shared_run():
    tied = paired_comparison("L", {0: 0.5, 1: 0.6}, "R", {0: 0.5, 1: 0.7})
    assert (tied.right_wins, tied.ties) == (1, 1)
    single = paired_comparison("L", {0: 0.5}, "R", {0: 0.6})
    assert single.n == 1 and single.interval is None
    assert single.verdict is Verdict.TOO_FEW_RUNS
    assert single.mean_difference == pytest.approx(0.1)
    none = paired_comparison("L", {0: 0.5}, "R", {1: 0.6})
    assert none.n == 0 and math.isnan(none.mean_difference) and none.wins == "0/0"


def test_pooled_answer_averages_pairs_within_each_run_then_takes_a_t_interval():
    pair_a = paired_comparison("A0", {0: 0, 1: 0, 2: 0}, "A1", {0: 1, 1: 2, 2: 3})
    pair_b = paired_comparison("B0", {0: 0, 1: 0, 2: 0}, "B1", {0: 3, 1: 2, 2: 7})
    pooled = pool_comparisons([pair_a, pair_b])
    # per-run means D = [2, 2, 5]: mean 3 (= mean of the pair means 2 and 4), sd sqrt(3)
    assert pooled.per_run_differences == (2.0, 2.0, 5.0)
    assert pooled.mean_difference == pytest.approx(3.0)
    assert pooled.interval.low == pytest.approx(3 - T_975_DF2 * 1.0, abs=1e-5)
    assert pooled.interval.high == pytest.approx(3 + T_975_DF2 * 1.0, abs=1e-5)
    assert pooled.verdict is Verdict.NO_CLEAR_DIFFERENCE
    assert (pooled.pair_wins, pooled.run_wins) == ("2/2", "6/6")


def test_pooled_answer_uses_only_runs_present_in_every_pair():
    pair_a = paired_comparison("A0", {0: 0, 1: 0, 2: 0}, "A1", {0: 1, 1: 3, 2: 9})
    pair_b = paired_comparison("B0", {0: 0, 1: 0}, "B1", {0: 3, 1: 1})  # run 2 missing
    pooled = pool_comparisons([pair_a, pair_b])
    assert pooled.run_indices == (0, 1)
    assert pooled.excluded_run_indices == (2,)
    assert pooled.per_run_differences == (2.0, 2.0)
    assert pooled.interval == ConfidenceInterval(2.0, 2.0, 0.95)  # no spread: zero width
    assert pooled.verdict is Verdict.BETTER
    assert pooled.run_wins == "5/5"  # wins count every paired run, also run 2 of pair A


def test_pooled_answer_of_one_complete_run_has_no_interval():
    pair = paired_comparison("A0", {0: 0.5}, "A1", {0: 0.6})
    pooled = pool_comparisons([pair])
    assert pooled.interval is None and pooled.verdict is Verdict.TOO_FEW_RUNS
    assert pooled.mean_difference == pytest.approx(0.1)
    empty = pool_comparisons([])
    assert empty.pairs_compared == 0 and math.isnan(empty.mean_difference)
