"""ClassifierConfig: seed-002 defaults, arrangement names, strict keys, clear errors."""

from __future__ import annotations

import dataclasses

import pytest

from rnnlab.models import SEED_ARRANGEMENTS, ClassifierConfig, parse_arrangement


def test_defaults_are_seed_002_ss_rsf_lstm():
    config = ClassifierConfig()
    assert (config.vocab_size, config.embedding_size, config.hidden_size, config.dense_size) == (
        5000, 64, 128, 64)
    assert config.cell == "lstm" and config.num_layers == 1 and not config.bidirectional
    assert config.pooling == "last" and config.dense_activation is None
    assert not config.masked and config.padding == "pre" and config.init == "keras"
    assert config.num_outputs == 1


@pytest.mark.parametrize("name", SEED_ARRANGEMENTS)
def test_from_arrangement_follows_the_parsed_name(name):
    parsed = parse_arrangement(name)
    config = ClassifierConfig.from_arrangement(name)
    assert config.arrangement == name
    assert config.cell == parsed.cell.lower()
    assert config.num_layers == parsed.num_layers
    assert config.bidirectional == parsed.bidirectional
    assert config.pooling == {"RSF": "last", "RST": "mean"}[parsed.output]


def test_overrides_apply_on_top_of_the_arrangement():
    config = ClassifierConfig.from_arrangement("MS_RST_LSTM", cell="peephole", masked=True,
                                               pooling="max")
    assert (config.cell, config.masked, config.pooling, config.num_layers) == (
        "peephole", True, "max", 2)


def test_unknown_keys_are_an_error():
    with pytest.raises(ValueError, match=r"unknown from_arrangement override\(s\) \['hiden'\]"):
        ClassifierConfig.from_arrangement("SS_RSF_LSTM", hiden=3)
    with pytest.raises(ValueError, match="unknown ClassifierConfig key"):
        ClassifierConfig.from_dict({"vocab_size": 10, "colour": "red"})
    with pytest.raises(TypeError):
        ClassifierConfig(colour="red")  # type: ignore[call-arg]


def test_dict_round_trip_and_frozen():
    config = ClassifierConfig.from_arrangement("MS_RSF_biGRU", vocab_size=77, masked=True)
    assert ClassifierConfig.from_dict(config.to_dict()) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.masked = False  # type: ignore[misc]
    assert config.replace(masked=False).masked is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cell": "transformer"}, "cell must be one of"),
        ({"pooling": "median"}, "pooling must be one of"),
        ({"hidden_size": 0}, "hidden_size must be an int >= 1, got 0"),
        ({"num_layers": True}, "num_layers must be an int >= 1, got True"),
        ({"num_classes": 1}, "num_classes must be an int >= 2"),
        ({"dense_size": -1}, "dense_size must be an int >= 0"),
        ({"padding": "left"}, "padding must be one of"),
        ({"init": "xavier"}, "init must be one of"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"recurrent_dropout": -0.1}, r"recurrent_dropout must be in \[0, 1\)"),
        ({"weight_dropout": True}, r"weight_dropout must be in \[0, 1\), got True"),
    ],
)
def test_bad_values_name_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        ClassifierConfig(**changes)


def test_bad_arrangement_name_explains():
    with pytest.raises(ValueError, match="SS .single stack. means one recurrent layer"):
        ClassifierConfig.from_arrangement("SS_RSF_biLSTM")


def test_rnn_alias_resolves_to_tanh_rnn_and_multiclass_has_one_output_per_class():
    assert ClassifierConfig(cell="rnn").resolved_cell == "rnn_tanh"
    assert ClassifierConfig(num_classes=5).num_outputs == 5
