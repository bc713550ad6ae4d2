import doctest

import pytest

from rnnlab.experiments import arrangement_names, stats
from rnnlab.experiments.arrangement_names import SEED_ARRANGEMENTS, parse_arrangement
from rnnlab.experiments.questions import (
    SEED_QUESTIONS,
    answer_masking_question,
    answer_seed_questions,
    arrangement_order,
)
from rnnlab.experiments.stats import Verdict
from rnnlab.experiments.wording import answer_sentence, comparison_row

from .runs import make_run

Q1, Q2, Q3 = SEED_QUESTIONS


def test_question_pairs_are_the_seeds_right_minus_left_tables():
    assert Q1.pairs == (
        ("SS_RSF_LSTM", "SS_RST_LSTM"), ("SS_RSF_GRU", "SS_RST_GRU"),
        ("MS_RSF_LSTM", "MS_RST_LSTM"), ("MS_RSF_GRU", "MS_RST_GRU"),
        ("MS_RSF_biLSTM", "MS_RST_biLSTM"), ("MS_RSF_biGRU", "MS_RST_biGRU"),
    )  # fmt: skip
    assert Q2.pairs == (
        ("SS_RSF_LSTM", "MS_RSF_LSTM"), ("SS_RSF_GRU", "MS_RSF_GRU"),
        ("SS_RST_LSTM", "MS_RST_LSTM"), ("SS_RST_GRU", "MS_RST_GRU"),
    )  # fmt: skip
    assert Q3.pairs == (
        ("MS_RSF_LSTM", "MS_RSF_biLSTM"), ("MS_RSF_GRU", "MS_RSF_biGRU"),
        ("MS_RST_LSTM", "MS_RST_biLSTM"), ("MS_RST_GRU", "MS_RST_biGRU"),
    )  # fmt: skip
    for question in SEED_QUESTIONS:
        for left, right in question.pairs:
            parse_arrangement(left), parse_arrangement(right)  # both valid names


def test_docstring_examples_hold():
    for module in (arrangement_names, stats):
        assert doctest.testmod(module).failed == 0


def test_arrangement_order_puts_seed_names_first_in_seed_order():
    assert arrangement_order(["zz", "MS_RST_biGRU", "SS_RSF_LSTM", "aa", "SS_RSF_LSTM"]) == [
        "SS_RSF_LSTM",
        "MS_RST_biGRU",
        "aa",
        "zz",
    ]


def _study(accuracy_of, runs=3, masked=(False,), skip=()):
    return [
        make_run(name, index, accuracy_of(name, index, is_masked), masked=is_masked)
        for is_masked in masked
        for index in range(runs)
        for name in SEED_ARRANGEMENTS
        if (name, index) not in skip
    ]


def test_seed_questions_pair_runs_by_index_and_word_the_verdict():
    # RST beats RSF by exactly 1 point plus 0.1 point per run index: every interval > 0.
    def accuracy(name, index, masked):
        return 0.80 + (0.01 + 0.001 * index if "_RST_" in name else 0.0)

    answers = {answer.question.key: answer for answer in answer_seed_questions(_study(accuracy))}
    q1 = answers["Q1"]
    assert [c.right for c in q1.comparisons] == [right for _, right in Q1.pairs]
    assert all(c.differences == pytest.approx((0.01, 0.011, 0.012)) for c in q1.comparisons)
    assert q1.pooled.verdict is Verdict.BETTER
    assert (q1.pooled.pair_wins, q1.pooled.run_wins) == ("6/6", "18/18")
    sentence = answer_sentence(q1)
    assert sentence.startswith("RST (mean of all states) is better than RSF (last state): +1.10")
    # per-run differences 1.0, 1.1, 1.2 points: 1.1 ± 4.302653 · 0.1 / √3 = [0.85, 1.35]
    assert "over 6 pairs and 3 runs, 95 % CI [+0.85, +1.35]" in sentence
    assert "Wins for RST (mean of all states): 6/6 pairs (by mean difference), 18/18" in sentence
    # Stacking and bidirectionality change nothing here: all differences are exactly 0.
    assert answers["Q2"].pooled.verdict is Verdict.NO_CLEAR_DIFFERENCE
    assert answer_sentence(answers["Q3"]).startswith("No clear difference between")
    assert comparison_row(q1.comparisons[0])[:3] == ("`SS_RSF_LSTM`", "`SS_RST_LSTM`", "3")


def test_unfinished_runs_are_left_out_and_missing_arrangements_listed():
    runs = [
        make_run("SS_RSF_LSTM", 0, 0.80),
        make_run("SS_RST_LSTM", 0, 0.82),
        make_run("SS_RSF_LSTM", 1, 0.81),
        make_run("SS_RST_LSTM", 1, None, status="failed", error="boom"),
    ]
    (q1,) = answer_seed_questions(runs)  # only Q1 has a pair with both arrangements
    (comparison,) = q1.comparisons
    assert comparison.run_indices == (0,)
    assert comparison.verdict is Verdict.TOO_FEW_RUNS
    assert len(q1.absent_pairs) == 5
    assert "interval needs ≥ 2 runs" in answer_sentence(q1)


def test_masking_question_pairs_masked_with_unmasked_runs_of_one_arrangement():
    def accuracy(name, index, masked):
        return 0.80 + 0.001 * index + (0.02 if masked else 0.0)

    runs = _study(accuracy, runs=2, masked=(False, True))
    (q4,) = answer_masking_question(runs)
    assert q4.question.key == "Q4"
    assert len(q4.comparisons) == 12
    assert q4.comparisons[0].left == "SS_RSF_LSTM unmasked"
    assert q4.comparisons[0].differences == pytest.approx((0.02, 0.02))
    assert q4.pooled.verdict is Verdict.BETTER
    # Q1-Q3 are answered separately for the masked and the unmasked runs.
    scopes = {(answer.question.key, answer.scope) for answer in answer_seed_questions(runs)}
    assert ("Q1", "imdb-short, masked") in scopes and ("Q1", "imdb-short, unmasked") in scopes


def test_no_masking_question_without_both_kinds_of_run():
    assert answer_masking_question(_study(lambda *_: 0.8, runs=2)) == []
