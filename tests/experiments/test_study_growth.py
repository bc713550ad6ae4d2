"""Growing a stored study config: what may grow, how it merges, what is refused."""

from __future__ import annotations

import pytest

from rnnlab.experiments.study import QUICK, StudyConfig, study_from_dict
from rnnlab.experiments.study_growth import (
    StudyGrowthError,
    describe_growth,
    grow_study_config,
    ordered_union,
)

STORED = {"name": "s", "runs": 1, "epochs": 3, "seeds": [], "arrangements": ["A"],
          "masked": [False], "conditions": {"elmo": {"encoder_run": "bilm"}},
          "condition_order": ["elmo"], "model": {"pooling": "max"}}


def test_more_runs_and_new_conditions_grow_in_the_declared_order():
    given = {**STORED, "runs": 3,
             "conditions": {"baseline": {}, "word2vec": {"embedding_vectors": "w2v"},
                            "elmo": {"encoder_run": "bilm"}, "finetune": {"x": 1}},
             "condition_order": ["baseline", "word2vec", "elmo", "finetune"]}
    grown = grow_study_config(STORED, given)
    assert grown["runs"] == 3
    assert grown["condition_order"] == ["baseline", "word2vec", "elmo", "finetune"]
    assert grown["conditions"] == given["conditions"]
    assert describe_growth(STORED, grown) == (
        "runs 1 → 3; conditions + baseline, word2vec, finetune")


def test_a_subset_adds_nothing_and_keeps_the_stored_study():
    stored = {**STORED, "runs": 3, "arrangements": ["A", "B", "C"]}
    given = {**stored, "runs": 1, "arrangements": ["B"]}
    assert grow_study_config(stored, given) == stored
    assert describe_growth(stored, grow_study_config(stored, given)) == ""


@pytest.mark.parametrize(("stored", "given", "expected"), [
    (["elmo"], ["baseline", "word2vec", "elmo", "finetune"],
     ["baseline", "word2vec", "elmo", "finetune"]),
    (["a", "c"], ["b", "d"], ["a", "c", "b", "d"]),  # nothing in common: appended in order
    # orders that disagree: the stored items keep theirs, b goes before a as given says
    (["a", "c"], ["c", "b", "a"], ["b", "a", "c"]),
    ([False], [True, False], [True, False]),
    ([], ["x"], ["x"]),
])
def test_ordered_union(stored, given, expected):
    assert ordered_union(stored, given) == expected


def test_settings_that_change_every_run_are_refused_by_name():
    given = {**STORED, "runs": 2, "epochs": 4, "model": {"pooling": "mean"}}
    with pytest.raises(StudyGrowthError) as refused:
        grow_study_config(STORED, given)
    message = str(refused.value)
    assert 'epochs: stored 3, given 4' in message
    assert 'model: stored {"pooling": "max"}, given {"pooling": "mean"}' in message
    assert "runs" not in message  # that part may grow


def test_a_condition_with_other_overrides_is_refused_by_name():
    given = {**STORED, "conditions": {"elmo": {"encoder_run": "other-bilm"}}}
    with pytest.raises(StudyGrowthError, match=r"conditions\.elmo: stored .*bilm.*other-bilm"):
        grow_study_config(STORED, given)


def test_seeds_may_only_extend_the_stored_list():
    stored = {**STORED, "runs": 2, "seeds": [5, 9]}
    assert grow_study_config(stored, {**stored, "runs": 3, "seeds": [5, 9, 11]})["seeds"] == [
        5, 9, 11]
    with pytest.raises(StudyGrowthError, match="seeds: stored \\[5, 9\\], given \\[5, 7, 11\\]"):
        grow_study_config(stored, {**stored, "runs": 3, "seeds": [5, 7, 11]})
    with pytest.raises(StudyGrowthError, match="seeds"):  # explicit seeds for implicit ones
        grow_study_config({**STORED, "runs": 2}, {**STORED, "runs": 2, "seeds": [0, 1]})


def test_the_declared_condition_order_survives_a_round_trip_through_sorted_json():
    import json

    study = StudyConfig(name="t", arrangements=("MS_RST_biLSTM",), masked=(True,),
                        conditions={"scratch": {}, "pooled": {"pooling": "max"}})
    stored = json.loads(json.dumps(study.to_dict(), sort_keys=True))  # as the store keeps it
    assert list(stored["conditions"]) == ["pooled", "scratch"]
    assert list(study_from_dict(stored).conditions) == ["scratch", "pooled"]
    assert QUICK.to_dict().get("condition_order") is None  # a study without conditions


def test_a_condition_order_that_does_not_match_the_conditions_is_refused():
    data = {**StudyConfig(name="t", arrangements=("MS_RST_biLSTM",), masked=(True,),
                          conditions={"a": {}, "b": {}}).to_dict(), "condition_order": ["a"]}
    with pytest.raises(ValueError, match=r"condition_order must list every condition "
                                         r"\['a', 'b'\] once .*got \('a',\)"):
        study_from_dict(data)


def test_a_selection_keeps_the_whole_declared_order_so_growth_keeps_the_reference():
    from rnnlab.experiments.transfer_study import select_conditions

    table = {"name": "t", "arrangements": ["MS_RST_biLSTM"], "masked": [True],
             "conditions": {"baseline": {}, "pooled": {"pooling": "max"},
                            "last": {"pooling": "last"}}}
    stored = None
    for only in (("pooled",), ("last",), ("baseline",)):  # the reference comes last
        given = study_from_dict(select_conditions(table, only)).to_dict()
        assert given["condition_order"] == ["baseline", "pooled", "last"]
        stored = given if stored is None else grow_study_config(stored, given)
    assert sorted(stored["conditions"]) == ["baseline", "last", "pooled"]
    assert list(study_from_dict(stored).conditions) == ["baseline", "pooled", "last"]
