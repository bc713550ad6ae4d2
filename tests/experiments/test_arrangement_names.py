import pytest

from rnnlab.experiments.arrangement_names import (
    SEED_ARRANGEMENTS,
    ArrangementName,
    parse_arrangement,
)


def test_seed_arrangements_are_the_twelve_names_in_stack_output_cell_order():
    assert SEED_ARRANGEMENTS == (
        "SS_RSF_LSTM", "SS_RSF_GRU", "SS_RST_LSTM", "SS_RST_GRU",
        "MS_RSF_LSTM", "MS_RSF_GRU", "MS_RSF_biLSTM", "MS_RSF_biGRU",
        "MS_RST_LSTM", "MS_RST_GRU", "MS_RST_biLSTM", "MS_RST_biGRU",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SS_RSF_LSTM", ArrangementName("SS", "RSF", "LSTM", False, 1, "last")),
        ("SS_RST_GRU", ArrangementName("SS", "RST", "GRU", False, 1, "mean")),
        ("MS_RSF_GRU", ArrangementName("MS", "RSF", "GRU", False, 2, "last")),
        ("MS_RST_LSTM", ArrangementName("MS", "RST", "LSTM", False, 2, "mean")),
        ("MS_RSF_biLSTM", ArrangementName("MS", "RSF", "LSTM", True, 1, "last")),
        ("MS_RST_biGRU", ArrangementName("MS", "RST", "GRU", True, 1, "mean")),
    ],
)
def test_parse_arrangement_reads_stack_output_and_cell(name, expected):
    assert parse_arrangement(name) == expected
    assert parse_arrangement(name).name == name


@pytest.mark.parametrize("name", SEED_ARRANGEMENTS)
def test_every_seed_arrangement_round_trips_through_its_name(name):
    assert parse_arrangement(name).name == name


@pytest.mark.parametrize("name", ["SS_RSF_biLSTM", "SS_RST_biGRU"])
def test_single_stack_bidirectional_is_rejected_with_the_reason_and_valid_names(name):
    with pytest.raises(ValueError, match="bidirectional layer is two layers") as error:
        parse_arrangement(name)
    assert "MS_" + name[3:] in str(error.value)  # suggests the MS spelling
    assert all(valid in str(error.value) for valid in SEED_ARRANGEMENTS)


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("XS_RSF_LSTM", "stack"),
        ("SS_RSX_LSTM", "output"),
        ("SS_RSF_RNN", "cell"),
        ("SS_RSF_lstm", "cell"),
        ("SS_RSF", "three parts"),
        ("SS_RSF_LSTM_extra", "three parts"),
        ("", "three parts"),
    ],
)
def test_malformed_names_raise_value_error_naming_the_bad_part(name, part):
    with pytest.raises(ValueError, match=part) as error:
        parse_arrangement(name)
    assert "Valid names: SS_RSF_LSTM" in str(error.value)


def test_non_string_name_is_a_type_error():
    with pytest.raises(TypeError, match="must be a str"):
        parse_arrangement(3)  # type: ignore[arg-type]
