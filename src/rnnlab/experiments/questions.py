"""Seed 002's three questions (and a fourth it could not ask), answered from stored runs.

Each question is a list of arrangement pairs ``(left, right)``; the answer compares
right with left on final test accuracy, paired by run index (see :mod:`.stats`):

- Q1 output type: ``X_RST_c`` vs ``X_RSF_c`` for the six stack/cell combinations.
- Q2 stacking: ``MS_o_c`` vs ``SS_o_c`` for o in RSF, RST and c in LSTM, GRU.
- Q3 bidirectional vs stacked: ``MS_o_bic`` vs ``MS_o_c``.
- Q4 masking: the masked run vs the unmasked run of the same arrangement and run index.

Q1-Q3 compare runs within one condition (dataset, masked); Q4 within one dataset.
Only runs with status 'done' count; the report says which are missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .arrangement_names import SEED_ARRANGEMENTS
from .stats import PairedComparison, PooledComparison, paired_comparison, pool_comparisons
from .store_records import RunRow

__all__ = [
    "SEED_QUESTIONS",
    "Condition",
    "Question",
    "QuestionAnswer",
    "answer_masking_question",
    "answer_reference_question",
    "answer_seed_questions",
    "arrangement_order",
    "conditions_of",
]


@dataclass(frozen=True)
class Question:
    key: str  # "Q1"
    title: str
    left_label: str  # how sentences name the left side of every pair
    right_label: str
    pairs: tuple[tuple[str, str], ...]  # (left arrangement, right arrangement)


SEED_QUESTIONS: tuple[Question, ...] = (
    Question(
        key="Q1",
        title="Does the output type matter? RST (mean of all states) vs RSF (last state)",
        left_label="RSF (last state)",
        right_label="RST (mean of all states)",
        pairs=tuple(
            (f"{stack}_RSF_{cell}", f"{stack}_RST_{cell}")
            for stack, cell in [
                ("SS", "LSTM"),
                ("SS", "GRU"),
                ("MS", "LSTM"),
                ("MS", "GRU"),
                ("MS", "biLSTM"),
                ("MS", "biGRU"),
            ]
        ),
    ),
    Question(
        key="Q2",
        title="Does stacking matter? two stacked layers (MS) vs one layer (SS)",
        left_label="one layer (SS)",
        right_label="two stacked layers (MS)",
        pairs=tuple(
            (f"SS_{output}_{cell}", f"MS_{output}_{cell}")
            for output in ("RSF", "RST")
            for cell in ("LSTM", "GRU")
        ),
    ),
    Question(
        key="Q3",
        title="Bidirectional or stacked? one bidirectional layer vs two stacked layers",
        left_label="two stacked layers",
        right_label="one bidirectional layer",
        pairs=tuple(
            (f"MS_{output}_{cell}", f"MS_{output}_bi{cell}")
            for output in ("RSF", "RST")
            for cell in ("LSTM", "GRU")
        ),
    ),
)

MASKING_QUESTION = Question(
    key="Q4",
    title="Does masking the padding matter? masked vs unmasked runs of the same arrangement",
    left_label="unmasked",
    right_label="masked",
    pairs=(),  # one pair per arrangement that has both kinds of run
)


@dataclass(frozen=True, order=True)
class Condition:
    """Runs comparable with each other: same dataset, same masking."""

    dataset: str
    masked: bool

    def __str__(self) -> str:
        return f"{self.dataset}, {'masked' if self.masked else 'unmasked'}"


@dataclass(frozen=True)
class QuestionAnswer:
    question: Question
    scope: str  # the condition (or dataset, for Q4) the answer holds for
    comparisons: tuple[PairedComparison, ...]
    pooled: PooledComparison
    absent_pairs: tuple[tuple[str, str], ...]  # pairs whose arrangements the study lacks


def arrangement_order(names: Sequence[str], declared: Sequence[str] = ()) -> list[str]:
    """Distinct names: those in ``declared`` first in its order (a condition study's own
    order), then the seed's 12 in the seed's order, then others sorted."""
    distinct = set(names)
    first = [name for name in dict.fromkeys((*declared, *SEED_ARRANGEMENTS)) if name in distinct]
    return first + sorted(distinct - set(first))


def conditions_of(runs: Sequence[RunRow]) -> list[Condition]:
    return sorted({Condition(run.dataset, run.masked) for run in runs})


def _accuracy_by_run(
    runs: Sequence[RunRow], arrangement: str, dataset: str, masked: bool
) -> dict[int, float]:
    return {
        run.run_index: run.test_accuracy
        for run in runs
        if run.status == "done"
        and run.test_accuracy is not None
        and (run.arrangement, run.dataset, run.masked) == (arrangement, dataset, masked)
    }


def answer_seed_questions(runs: Sequence[RunRow], level: float = 0.95) -> list[QuestionAnswer]:
    """Q1-Q3 for every condition whose runs include both sides of at least one pair."""
    answers = []
    for condition in conditions_of(runs):
        present = {
            run.arrangement for run in runs if Condition(run.dataset, run.masked) == condition
        }
        for question in SEED_QUESTIONS:
            asked = [pair for pair in question.pairs if set(pair) <= present]
            if not asked:
                continue
            comparisons = tuple(
                paired_comparison(
                    left,
                    _accuracy_by_run(runs, left, condition.dataset, condition.masked),
                    right,
                    _accuracy_by_run(runs, right, condition.dataset, condition.masked),
                    level,
                )
                for left, right in asked
            )
            answers.append(
                QuestionAnswer(
                    question=question,
                    scope=str(condition),
                    comparisons=comparisons,
                    pooled=pool_comparisons(comparisons, level),
                    absent_pairs=tuple(pair for pair in question.pairs if pair not in asked),
                )
            )
    return answers


def answer_masking_question(runs: Sequence[RunRow], level: float = 0.95) -> list[QuestionAnswer]:
    """Q4 for every dataset that has masked and unmasked runs of one arrangement."""
    answers = []
    for dataset in sorted({run.dataset for run in runs}):
        kinds: dict[str, set[bool]] = {}
        for run in runs:
            if run.dataset == dataset:
                kinds.setdefault(run.arrangement, set()).add(run.masked)
        both = arrangement_order([name for name, masked in kinds.items() if len(masked) == 2])
        if not both:
            continue
        comparisons = tuple(
            paired_comparison(
                f"{name} unmasked",
                _accuracy_by_run(runs, name, dataset, False),
                f"{name} masked",
                _accuracy_by_run(runs, name, dataset, True),
                level,
            )
            for name in both
        )
        answers.append(
            QuestionAnswer(
                question=MASKING_QUESTION,
                scope=dataset,
                comparisons=comparisons,
                pooled=pool_comparisons(comparisons, level),
                absent_pairs=(),
            )
        )
    return answers


def answer_reference_question(runs: Sequence[RunRow], reference: str,
                              level: float = 0.95,
                              declared: Sequence[str] = ()) -> list[QuestionAnswer]:
    """A study of named conditions (the transfer study): every condition against
    ``reference`` (e.g. "baseline"), paired by run index, in each (dataset, masked), in the
    ``declared`` order of the conditions."""
    answers = []
    for condition in conditions_of(runs):
        present = arrangement_order([run.arrangement for run in runs
                                     if Condition(run.dataset, run.masked) == condition],
                                    declared)
        if reference not in present:
            continue
        question = Question(key="T", title=f"Does each condition beat {reference}?",
                            left_label=reference, right_label="condition",
                            pairs=tuple((reference, name) for name in present
                                        if name != reference))
        if not question.pairs:
            continue
        comparisons = tuple(
            paired_comparison(
                left, _accuracy_by_run(runs, left, condition.dataset, condition.masked),
                right, _accuracy_by_run(runs, right, condition.dataset, condition.masked),
                level)
            for left, right in question.pairs
        )
        answers.append(QuestionAnswer(question=question, scope=str(condition),
                                      comparisons=comparisons,
                                      pooled=pool_comparisons(comparisons, level),
                                      absent_pairs=()))
    return answers
