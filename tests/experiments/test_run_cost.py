"""Claims hand out the dearest run of the lowest run index first (longest processing time
first), so a study's workers finish together."""

import json

import pytest

from rnnlab.experiments.run_cost import recurrent_flops_per_token, run_cost
from rnnlab.experiments.store import ResultStore, RunSpec
from rnnlab.models import ClassifierConfig


def _model(arrangement: str) -> dict:
    return ClassifierConfig.from_arrangement(arrangement, vocab_size=5000,
                                             num_classes=2).to_dict()


@pytest.mark.parametrize(("arrangement", "flops"), [
    # 2 FLOPs × gates × hidden × (input + hidden), per direction and layer, by hand
    ("SS_RSF_LSTM", 2 * 4 * 128 * (64 + 128)),
    ("SS_RST_GRU", 2 * 3 * 128 * (64 + 128)),
    ("MS_RSF_LSTM", 2 * 4 * 128 * (64 + 128) + 2 * 4 * 128 * (128 + 128)),
    ("MS_RST_biGRU", 2 * (2 * 3 * 128 * (64 + 128))),
])
def test_flops_per_token_of_the_seed_arrangements_match_the_hand_count(arrangement, flops):
    assert recurrent_flops_per_token(_model(arrangement)) == flops


def test_configs_that_are_not_classifiers_cost_nothing_and_keep_the_store_order():
    assert run_cost({"task": "adding", "epochs": 3}) == 0.0
    assert run_cost({"model": {"hidden_size": "many"}}) == 0.0


def test_claims_take_the_dearest_run_of_the_lowest_run_index_first(tmp_path):
    arrangements = ["SS_RSF_LSTM", "MS_RSF_biGRU", "SS_RSF_GRU", "MS_RST_LSTM"]
    specs = [RunSpec(name, index, 1000 + index, "imdb-short", False,
                     {"model": _model(name), "epochs": 5})
             for index in range(2) for name in arrangements]
    with ResultStore(tmp_path / "results.sqlite") as store:
        study = store.ensure_study("lpt", {"name": "lpt"})
        store.add_runs(study, specs)
        order = []
        while (run := store.claim_next_run(study, "w")) is not None:
            order.append((run.arrangement, run.run_index))
    # MS_RST_LSTM (two LSTM layers) > MS_RSF_biGRU > SS_RSF_LSTM > SS_RSF_GRU, within each index
    by_cost = ["MS_RST_LSTM", "MS_RSF_biGRU", "SS_RSF_LSTM", "SS_RSF_GRU"]
    assert order == [(name, 0) for name in by_cost] + [(name, 1) for name in by_cost]


def _bilm_run(path, embedding=128, hidden=256):
    path.mkdir()
    (path / "config.json").write_text(json.dumps(
        {"model": {"embedding_size": embedding, "hidden_size": hidden, "cell": "lstm"}}))
    return str(path)


def test_a_classifier_on_bilm_features_adds_the_bilm_and_its_wider_input(tmp_path):
    bilm = _bilm_run(tmp_path / "bilm")
    baseline = _model("MS_RST_biLSTM")  # embedding 64, one bidirectional LSTM(128)
    # the bi-LM by hand, per direction: LSTM1 over 128, skip 128→256, LSTM2 over 256
    bilm_flops = 2 * (2 * 4 * 256 * (128 + 256) + 2 * 128 * 256 + 2 * 4 * 256 * (256 + 256))
    wider = 2 * (2 * 4 * 128 * (64 + 2 * 256 + 128))  # [x_k; ELMo_k] of width 64 + 512
    elmo = {**baseline, "encoder_run": bilm}
    finetune = {**elmo, "encoder_training": "finetune"}
    assert run_cost({"model": baseline, "epochs": 3}) == 3 * recurrent_flops_per_token(baseline)
    assert run_cost({"model": elmo, "epochs": 3}) == pytest.approx(3 * (wider + bilm_flops / 3))
    assert run_cost({"model": finetune, "epochs": 3}) == pytest.approx(3 * (wider + bilm_flops))
    # an encoder run that cannot be read costs as a plain classifier (the claim still works)
    assert run_cost({"model": {**baseline, "encoder_run": str(tmp_path / "gone")}, "epochs": 3}
                    ) == run_cost({"model": baseline, "epochs": 3})
