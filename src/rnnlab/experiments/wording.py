"""Numbers and verdicts in words, for the report.

Accuracies are stored as fractions and shown in percent; differences are shown in
percentage points ("+1.23"), always right minus left.
"""

from __future__ import annotations

import math

from .questions import QuestionAnswer
from .stats import ConfidenceInterval, PairedComparison, Verdict

__all__ = [
    "COMPARISON_HEADER",
    "answer_sentence",
    "comparison_row",
    "interval_text",
    "percent",
    "points",
]

MISSING = "—"


def percent(value: float | None) -> str:
    """0.8123 -> "81.23" (missing or NaN -> "—")."""
    if value is None or math.isnan(value):
        return MISSING
    return f"{100 * value:.2f}"


def points(value: float | None) -> str:
    """A difference of accuracies in percentage points with its sign: 0.0123 -> "+1.23"."""
    if value is None or math.isnan(value):
        return MISSING
    return f"{100 * value:+.2f}"


def interval_text(interval: ConfidenceInterval | None) -> str:
    if interval is None:
        return Verdict.TOO_FEW_RUNS.value
    return f"[{points(interval.low)}, {points(interval.high)}]"


COMPARISON_HEADER = (
    "left",
    "right",
    "paired runs",
    "mean left (%)",
    "mean right (%)",
    "right − left (points)",
    "95 % CI (points)",
    "right wins (runs)",
    "verdict",
)


def comparison_row(comparison: PairedComparison) -> tuple[str, ...]:
    wins = comparison.wins + (f" ({comparison.ties} tied)" if comparison.ties else "")
    verdict = "no paired runs" if comparison.n == 0 else comparison.verdict.value
    return (
        f"`{comparison.left}`",
        f"`{comparison.right}`",
        str(comparison.n),
        percent(comparison.mean_left),
        percent(comparison.mean_right),
        points(comparison.mean_difference),
        interval_text(comparison.interval),
        wins,
        verdict,
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def answer_sentence(answer: QuestionAnswer) -> str:
    """The pooled answer to a question in one or two sentences, worded from the numbers."""
    question, pooled = answer.question, answer.pooled
    right, left = question.right_label, question.left_label
    if pooled.pairs_compared == 0:
        return f"No paired runs yet, so nothing can be said about {right} vs {left}."
    tally = (
        f"Wins for {right}: {pooled.pair_wins} pairs (by mean difference), "
        f"{pooled.run_wins} paired runs."
    )
    mean = f"{points(pooled.mean_difference)} points on average"
    basis = (
        f"over {_count(pooled.pairs_compared, 'pair')} and {_count(len(pooled.run_indices), 'run')}"
    )
    interval = interval_text(pooled.interval)
    if pooled.verdict is Verdict.BETTER:
        text = f"{right} is better than {left}: {mean} {basis}, 95 % CI {interval}. {tally}"
    elif pooled.verdict is Verdict.WORSE:
        text = f"{right} is worse than {left}: {mean} {basis}, 95 % CI {interval}. {tally}"
    elif pooled.verdict is Verdict.NO_CLEAR_DIFFERENCE:
        text = (
            f"No clear difference between {right} and {left}: {mean} {basis}, but the "
            f"95 % CI {interval} includes 0. {tally}"
        )
    elif pooled.run_indices:
        text = f"Too few runs to judge {right} against {left} ({interval}): {mean} {basis}. {tally}"
    else:
        text = (
            f"Too few runs to judge {right} against {left}: no run index is complete in "
            f"every pair. {tally}"
        )
    text = text[0].upper() + text[1:]  # labels start lower-case mid-sentence
    if pooled.excluded_run_indices:
        excluded = ", ".join(map(str, pooled.excluded_run_indices))
        text += (
            f" Run(s) {excluded} are missing from some pair and left out of the pooled "
            "difference and interval."
        )
    return text
