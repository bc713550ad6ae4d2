"""rank_units against brute force (every inside/outside pair) and hand-computed cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rnnlab.diagnostics.unit_search import locate_tokens, rank_units, regex_track


def brute_force_auroc(scores: np.ndarray, track: np.ndarray) -> float:
    """P(inside > outside) + ½ P(tie), over every (inside, outside) pair."""
    inside, outside = scores[track == 1], scores[track == 0]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0
               for a, b in itertools.product(inside, outside))
    return wins / (inside.size * outside.size)


def test_auroc_and_pearson_match_brute_force_with_ties():
    generator = np.random.default_rng(0)
    # Rounded values: many ties, the case naive sorting gets wrong.
    states = np.round(generator.normal(size=(23, 7)), 1)
    states[:, 5] = 0.0  # a dead unit: all ties
    track = (generator.random(23) < 0.4).astype(int)
    scores = {score.unit: score for score in rank_units(states, track)}
    for unit in range(7):
        assert scores[unit].auroc == pytest.approx(brute_force_auroc(states[:, unit], track))
        if unit == 5:
            assert np.isnan(scores[unit].pearson)
            assert scores[unit].auroc == 0.5
        else:
            assert scores[unit].pearson == pytest.approx(
                np.corrcoef(states[:, unit], track)[0, 1])


def test_hand_case_perfect_indicator_ranks_first():
    # Unit 3 is on inside the pattern; unit 1 is off inside it (AUROC 0); unit 0 is noise.
    track = np.array([0, 0, 1, 1, 1, 0])
    states = np.zeros((6, 4))
    states[:, 0] = [0.3, 0.1, 0.2, 0.3, 0.1, 0.2]
    states[:, 1] = [0.9, 0.8, 0.1, 0.1, 0.2, 0.7]
    states[:, 2] = [0.5, 0.4, 0.6, 0.4, 0.6, 0.5]
    states[:, 3] = [0.1, 0.2, 0.9, 0.9, 0.8, 0.1]
    ranked = rank_units(states, track)
    assert ranked[0].unit == 3 and ranked[0].auroc == 1.0 and ranked[0].strength == 1.0
    assert ranked[1].unit == 1 and ranked[1].auroc == 0.0 and ranked[1].sign == -1
    assert ranked[0].sign == 1
    # unit 0: inside {.2,.3,.1} vs outside {.3,.1,.2}: 3 wins + 3 ties of 9 pairs = 4.5/9.
    assert next(s for s in ranked if s.unit == 0).auroc == pytest.approx(0.5)


def test_ties_in_strength_break_by_pearson_then_unit_index():
    track = np.array([0, 1, 0, 1])
    states = np.array([[0, 0, 0], [1, 1, 5], [0, 0, 0], [1, 1, 1]], dtype=float)
    ranked = rank_units(states, track)
    # All three separate perfectly; units 0 and 1 correlate perfectly, unit 2 less.
    assert [s.unit for s in ranked] == [0, 1, 2]


def test_float_track_ranks_by_pearson_and_auroc_is_nan():
    track = np.array([0.0, 0.5, 1.0, 0.25])
    states = np.column_stack([[1, 0, 1, 0], [0, 0.5, 1, 0.25], [0, -0.5, -1, -0.2]])
    ranked = rank_units(states, track)
    assert ranked[0].unit == 1 and ranked[0].pearson == pytest.approx(1.0)
    assert ranked[1].unit == 2 and ranked[1].pearson < -0.99
    assert all(np.isnan(s.auroc) for s in ranked)
    with pytest.raises(ValueError, match="0/1 track"):
        rank_units(states, track, by="auroc")


def test_bool_track_and_rank_by_pearson():
    track = np.array([False, True, True, False, False])
    states = np.column_stack([[0, 1, 1, 0, 0], [0, 3, 1, 0, 0]]).astype(float)
    ranked = rank_units(states, track, by="pearson")
    assert [s.unit for s in ranked] == [0, 1]
    assert ranked[1].auroc == 1.0


@pytest.mark.parametrize("track, message", [
    (np.zeros(5), "constant"),
    (np.ones(5), "constant"),
    (np.zeros(4), r"track must be \(tokens,\)"),
    (np.array([0, 1, np.nan, 0, 1]), "NaN"),
])
def test_bad_tracks_are_named(track, message):
    with pytest.raises(ValueError, match=message):
        rank_units(np.ones((5, 2)), track)


def test_bad_states_are_named():
    with pytest.raises(ValueError, match=r"states must be \(tokens, units\)"):
        rank_units(np.ones(5), np.array([0, 1, 0, 1, 0]))
    with pytest.raises(ValueError, match="NaN"):
        rank_units(np.array([[np.nan], [1.0]]), np.array([0, 1]))


def test_regex_track_marks_tokens_overlapping_a_match():
    text = 'he said "no, never" twice'
    tokens = ["he", "said", '"', "no", ",", "never", '"', "twice"]
    spans = locate_tokens(text, tokens)
    assert spans[2] == (8, 9) and spans[6] == (18, 19)
    assert regex_track(text, r'"[^"]*"', spans).tolist() == [0, 0, 1, 1, 1, 1, 1, 0]


def test_regex_track_characters_and_empty_matches():
    text = 'a"bc"d'
    spans = [(i, i + 1) for i in range(len(text))]
    assert regex_track(text, r'"[^"]*"', spans).tolist() == [0, 1, 1, 1, 1, 0]
    assert regex_track(text, r"x*", spans).tolist() == [0] * 6  # only empty matches
    assert regex_track(text, "B", spans, flags=2).tolist() == [0, 0, 1, 0, 0, 0]  # IGNORECASE


def test_regex_track_bad_input():
    with pytest.raises(ValueError, match="not a valid regular expression"):
        regex_track("abc", "(", [(0, 1)])
    with pytest.raises(ValueError, match=r"spans\[0\]"):
        regex_track("abc", "a", [(2, 9)])


def test_locate_tokens_keeps_alignment_for_a_rewritten_token():
    spans = locate_tokens("Hello <b> world", ["hello", "<unk>", "world"], ignore_case=True)
    assert spans == [(0, 5), (5, 5), (10, 15)]
