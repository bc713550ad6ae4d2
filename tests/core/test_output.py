"""The output object: torch-compatible unpacking and the named views of seed 001."""

from __future__ import annotations

import pytest
import torch

import rnnlab
from tests.core.conftest import BATCH, HIDDEN, INPUT, TIME


@pytest.fixture
def bidirectional_result():
    layer = rnnlab.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(BATCH, TIME, INPUT)
    return layer(x, lengths=[4, 2, 3]), layer, x


def test_unpacks_like_torch_lstm(bidirectional_result):
    result, _, _ = bidirectional_result
    output, (h_n, c_n) = result
    assert output is result.output and h_n is result.h_n and c_n is result.c_n
    assert output.shape == (BATCH, TIME, 2 * HIDDEN)
    assert h_n.shape == c_n.shape == (2 * 2, BATCH, HIDDEN)
    assert result[0] is output and len(result) == 2


def test_gru_unpacks_to_output_and_h_n():
    output, h_n = rnnlab.GRU(INPUT, HIDDEN)(torch.randn(TIME, BATCH, INPUT))
    assert output.shape == (TIME, BATCH, HIDDEN) and h_n.shape == (1, BATCH, HIDDEN)


def test_last_is_forward_at_last_real_token_and_backward_at_first(bidirectional_result):
    result, _, _ = bidirectional_result
    forward, backward = result.forward_output, result.backward_output
    for row, length in enumerate([4, 2, 3]):
        expected = torch.cat([forward[row, length - 1], backward[row, 0]])
        torch.testing.assert_close(result.last[row], expected, atol=0, rtol=0)


def test_final_hidden_regroups_h_n_by_layer_and_direction(bidirectional_result):
    result, _, _ = bidirectional_result
    grouped = result.final_hidden
    assert grouped.shape == (2, 2, BATCH, HIDDEN)
    # torch's h_n order is layer-major: [l0 fwd, l0 bwd, l1 fwd, l1 bwd].
    assert torch.equal(grouped[1, 0], result.h_n[2])
    assert torch.equal(grouped[1, 1], result.h_n[3])
    assert torch.equal(result.final_cell[0, 1], result.c_n[1])


def test_top_layer_final_states_equal_outputs_at_the_ends(bidirectional_result):
    result, _, _ = bidirectional_result
    for row, length in enumerate([4, 2, 3]):
        assert torch.equal(result.final_hidden[-1, 0, row], result.forward_output[row, length - 1])
        assert torch.equal(result.final_hidden[-1, 1, row], result.backward_output[row, 0])


def test_outputs_at_padding_are_zero_and_mask_marks_real_positions(bidirectional_result):
    result, _, _ = bidirectional_result
    expected_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]], dtype=torch.bool)
    assert torch.equal(result.mask, expected_mask)
    assert torch.all(result.output[~expected_mask] == 0)


def test_backward_view_of_unidirectional_layer_explains_the_fix():
    result = rnnlab.LSTM(INPUT, HIDDEN)(torch.randn(TIME, BATCH, INPUT))
    with pytest.raises(ValueError, match="bidirectional=True"):
        _ = result.backward_output


def test_go_backwards_output_flips_back_to_input_order():
    layer = rnnlab.LSTM(INPUT, HIDDEN, batch_first=True, go_backwards=True)
    result = layer(torch.randn(BATCH, TIME, INPUT))
    assert torch.equal(result.backward_output, rnnlab.flip_time(result))
    assert torch.equal(result.backward_output, layer.flip_time(result.output))
    # The summary is the state after reading right to left down to token 0.
    assert torch.equal(result.last, result.output[:, -1])
    with pytest.raises(ValueError, match="no forward direction"):
        _ = result.forward_output
