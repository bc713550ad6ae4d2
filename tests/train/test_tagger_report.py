"""The tagging report's numbers against hand-counted tiny cases."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.train.tagger_report import format_report, most_frequent_tag_baseline, score_tags

TAGS = ("DET", "NOUN", "VERB")


def test_scores_split_known_and_unknown_tokens_and_count_confusions():
    gold = [[0, 1, 2], [1, 2]]
    predicted = [[0, 1, 1], [2, 2]]
    known = [[True, True, False], [False, True]]
    scores = score_tags(gold, predicted, known, TAGS)
    # known: DET ok, NOUN ok, VERB ok -> 3/3; unknown: VERB->NOUN wrong, NOUN->VERB wrong -> 0/2
    assert (scores.known_correct, scores.known_total) == (3, 3)
    assert (scores.unknown_correct, scores.unknown_total) == (0, 2)
    assert scores.accuracy == pytest.approx(3 / 5)
    assert scores.confusion.tolist() == [[1, 0, 0], [0, 1, 1], [0, 1, 1]]
    assert scores.per_tag() == {"DET": (1, 1.0), "NOUN": (2, 0.5), "VERB": (2, 0.5)}


def test_mismatched_token_counts_are_refused():
    with pytest.raises(ValueError, match="same tokens"):
        score_tags([[0, 1]], [[0]], [[True, True]], TAGS)


def test_baseline_uses_form_then_lower_case_then_the_most_frequent_tag():
    train = [(("The", "DET"), ("run", "NOUN"), ("run", "VERB"), ("run", "VERB")),
             (("the", "DET"), ("dog", "NOUN"), ("dog", "NOUN"))]
    sentences = [(("the", "DET"), ("run", "VERB"), ("Dog", "NOUN"), ("cat", "NOUN"))]
    # the -> DET (form), run -> VERB (2 of 3), Dog -> dog's NOUN (lower case),
    # cat (unseen) -> NOUN, the most frequent training tag (3 of 7, DET has 2, VERB 2)
    assert most_frequent_tag_baseline(train, sentences, TAGS) == [[0, 2, 1, 1]]


def test_ties_go_to_the_tag_first_in_sorted_order():
    train = [(("saw", "VERB"), ("saw", "NOUN"))]
    assert most_frequent_tag_baseline(train, [(("saw", "VERB"),)], TAGS) == [[1]]


def test_report_puts_tagger_and_baseline_in_one_table_with_the_confusion_matrix():
    gold, known = [np.array([0, 1, 2, 1])], [np.array([True, True, True, False])]
    tagger = score_tags(gold, [np.array([0, 1, 2, 2])], known, TAGS)
    baseline = score_tags(gold, [np.array([0, 1, 1, 1])], known, TAGS)
    text = format_report(tagger, baseline, title="tiny")
    assert "| all | 4 | 75.00 % | 75.00 % |" in text
    assert "| known words | 3 | 100.00 % | 66.67 % |" in text
    assert "| unknown words | 1 | 0.00 % | 100.00 % |" in text
    assert "| tag `VERB` | 1 | 100.00 % | 0.00 % |" in text
    assert "| `NOUN` | 0 | 1 | 1 |" in text  # gold NOUN: once right, once as VERB
