"""Bad input gets an error that names the argument, the value received and what is allowed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnlab
from tests.core.conftest import BATCH, HIDDEN, INPUT, TIME


@pytest.fixture
def layer():
    return rnnlab.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True)


def test_wrong_rank(layer):
    message = r"x must be 3-D \(batch, time, features\).*\(3, 4, 5, 1\)"
    with pytest.raises(ValueError, match=message):
        layer(torch.randn(BATCH, TIME, INPUT, 1))


def test_input_size_mismatch(layer):
    with pytest.raises(ValueError, match="7 features .* input_size=5"):
        layer(torch.randn(BATCH, TIME, 7))


def test_integer_input_points_to_embedding(layer):
    with pytest.raises(TypeError, match="nn.Embedding"):
        layer(torch.ones(BATCH, TIME, INPUT, dtype=torch.long))


def test_lengths_longer_than_time(layer):
    with pytest.raises(ValueError, match=r"lengths must be in \[0, 4\] for time=4, got max 9"):
        layer(torch.randn(BATCH, TIME, INPUT), lengths=[9, 1, 1])


def test_lengths_of_wrong_batch_size(layer):
    with pytest.raises(ValueError, match="expected 3"):
        layer(torch.randn(BATCH, TIME, INPUT), lengths=[1, 1])


def test_unknown_padding(layer):
    with pytest.raises(ValueError, match=r"padding must be one of \('post', 'pre'\), got 'left'"):
        layer(torch.randn(BATCH, TIME, INPUT), lengths=[1, 1, 1], padding="left")


def test_unknown_cell_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"cell must be one of \['cifg', 'layernorm', 'lstm'"):
        rnnlab.LSTM(INPUT, HIDDEN, cell="peeophole")


def test_initial_state_of_wrong_shape(layer):
    h0 = torch.zeros(2, BATCH, HIDDEN)
    with pytest.raises(ValueError, match=r"h_0 must have shape .* = \(4, 3, 6\), got \(2, 3, 6\)"):
        layer(torch.randn(BATCH, TIME, INPUT), initial_state=(h0, torch.zeros(4, BATCH, HIDDEN)))


def test_initial_state_with_missing_cell_state(layer):
    with pytest.raises(ValueError, match=r"initial_state must be \(h_0, c_0\)"):
        layer(torch.randn(BATCH, TIME, INPUT), initial_state=torch.zeros(4, BATCH, HIDDEN))


@pytest.mark.parametrize("kwargs,message", [
    ({"num_layers": 0}, "num_layers must be an integer >= 1, got 0"),
    ({"dropout": 1.5}, r"dropout must be in \[0, 1\), got 1.5"),
    ({"proj_size": 6}, "proj_size must be smaller than hidden_size=6"),
    ({"go_backwards": True, "bidirectional": True}, "go_backwards=True is for unidirectional"),
    ({"cell": "peephole", "proj_size": 2}, "proj_size=2 is only supported with cell='lstm'"),
])
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rnnlab.LSTM(INPUT, HIDDEN, **kwargs)


# Hostile lengths (issue 14, item 11): each gets an error naming lengths, never a wrapped
# int64 ("got min -9223372036854775808"), a numpy error or a silent acceptance.
@pytest.mark.parametrize("lengths,error,message", [
    ([float("inf"), 1, 1], ValueError, r"lengths must be finite whole numbers, got \[inf\]"),
    ([float("nan"), 1, 1], ValueError, "lengths must be finite whole numbers"),
    ([1e30, 1, 1], ValueError, r"lengths must be in \[0, 4\] for time=4, got max 1e\+30"),
    (np.array([2**63, 1, 1], dtype=np.uint64), ValueError,
     "got max 9223372036854775808"),
    (["a", 1, 1], TypeError, r"lengths must be integers .*dtype <U"),
    ([None, 1, 1], TypeError, r"lengths must be integers .*\[None, 1, 1\]"),
    ([1 + 1j, 1, 1], TypeError, "lengths must be integers .*complex"),
    (torch.tensor([1 + 1j, 1, 1]), TypeError, "lengths must be real integers"),
])
def test_hostile_lengths_get_an_error_naming_lengths(layer, lengths, error, message):
    with pytest.raises(error, match=message):
        layer(torch.randn(BATCH, TIME, INPUT), lengths=lengths)


@pytest.mark.parametrize("cell", ["lstm", "gru", "peephole"])
def test_time_zero_with_lengths_works_on_every_cell(cell):
    layer_class = rnnlab.GRU if cell == "gru" else rnnlab.LSTM
    kwargs = {} if cell == "gru" else {"cell": cell}
    layer = layer_class(INPUT, HIDDEN, bidirectional=True, batch_first=True, **kwargs)
    out = layer(torch.randn(BATCH, 0, INPUT), lengths=[0, 0, 0])
    assert out.output.shape == (BATCH, 0, 2 * HIDDEN)
    assert torch.equal(out.h_n, torch.zeros(2, BATCH, HIDDEN))


@pytest.mark.parametrize("argument,value", [
    ("bidirectional", "no"), ("go_backwards", "no"), ("batch_first", 1), ("bias", "false"),
    ("use_fused_kernel", None),
])
def test_flags_must_be_booleans_not_truthy_strings(argument, value):
    with pytest.raises(ValueError, match=f"{argument} must be True or False, got {value!r}"):
        rnnlab.LSTM(INPUT, HIDDEN, **{argument: value})


def test_hidden_size_true_is_not_one():
    with pytest.raises(ValueError, match="hidden_size must be an integer >= 1, got True"):
        rnnlab.LSTM(INPUT, True)
