"""rnnlab layers against torch.nn: outputs, final states and gradients, over the argument grid."""

from __future__ import annotations

import itertools

import pytest
import torch

import rnnlab
from tests.core.conftest import BATCH, HIDDEN, INPUT, LENGTHS, TIME, make_pair, torch_oracle

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}

GRID = list(itertools.product(
    ["lstm", "gru", "rnn_tanh", "rnn_relu"],  # cell
    [1, 2, 3],                                # num_layers
    [False, True],                            # bidirectional
    [False, True],                            # batch_first
    [("none", "post"), ("mixed", "post"), ("mixed", "pre")],
))


def _states(state):
    return state if isinstance(state, tuple) else (state,)


def _compare(kind, layers, bidirectional, batch_first, lengths_case, padding, dtype, fused):
    ours, reference = make_pair(kind, dtype, num_layers=layers, bidirectional=bidirectional,
                                batch_first=batch_first)
    ours.use_fused_kernel = fused
    lengths = LENGTHS[lengths_case]
    shape = (BATCH, TIME, INPUT) if batch_first else (TIME, BATCH, INPUT)
    x = torch.randn(shape, dtype=dtype, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)

    result = ours(x, lengths=lengths, padding=padding)
    expected_out, expected_state = torch_oracle(reference, x_ref, lengths, padding, batch_first)

    real = [i for i in range(BATCH) if lengths is None or lengths[i] > 0]
    batch_dim = 0 if batch_first else 1
    pick = torch.tensor(real)
    tol = TOLERANCE[dtype]
    got_out = result.output.index_select(batch_dim, pick)
    want_out = expected_out.index_select(batch_dim, pick)
    torch.testing.assert_close(got_out, want_out, atol=tol, rtol=0)
    for got, want in zip(_states(result.state), _states(expected_state)):
        torch.testing.assert_close(got.index_select(1, pick), want.index_select(1, pick),
                                   atol=tol, rtol=0)

    # Gradients with random upstream gradients on the outputs and on every final state.
    weights_out = torch.randn_like(got_out)
    weights_state = [torch.randn_like(s.index_select(1, pick)) for s in _states(result.state)]
    loss = (got_out * weights_out).sum() + sum(
        (s.index_select(1, pick) * w).sum() for s, w in zip(_states(result.state), weights_state))
    loss_ref = (want_out * weights_out).sum() + sum(
        (s.index_select(1, pick) * w).sum()
        for s, w in zip(_states(expected_state), weights_state))
    loss.backward()
    loss_ref.backward()
    torch.testing.assert_close(x.grad.index_select(batch_dim, pick),
                               x_ref.grad.index_select(batch_dim, pick), atol=tol * 10, rtol=0)
    ref_grads = dict(reference.named_parameters())
    for name, parameter in ours.state_dict(keep_vars=True).items():
        torch.testing.assert_close(parameter.grad, ref_grads[name].grad, atol=tol * 10, rtol=0,
                                   msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("kind,layers,bidirectional,batch_first,case", GRID)
def test_fused_path_matches_torch_nn_in_float64(kind, layers, bidirectional, batch_first, case):
    _compare(kind, layers, bidirectional, batch_first, *case, torch.float64, fused=True)


@pytest.mark.parametrize("kind,layers,bidirectional,batch_first,case", GRID)
def test_time_loop_matches_torch_nn_in_float64(kind, layers, bidirectional, batch_first, case):
    _compare(kind, layers, bidirectional, batch_first, *case, torch.float64, fused=False)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("case", [("none", "post"), ("mixed", "post"), ("mixed", "pre")])
@pytest.mark.parametrize("fused", [True, False])
def test_matches_torch_nn_in_float32(kind, case, fused):
    _compare(kind, 2, True, True, *case, torch.float32, fused=fused)


@pytest.mark.parametrize("fused", [True, False])
def test_lstm_projection_matches_torch_nn(fused):
    reference = torch.nn.LSTM(INPUT, HIDDEN, 2, batch_first=True, bidirectional=True,
                              proj_size=4).double()
    ours = rnnlab.LSTM(INPUT, HIDDEN, 2, batch_first=True, bidirectional=True, proj_size=4,
                       use_fused_kernel=fused).double()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(BATCH, TIME, INPUT, dtype=torch.float64)
    lengths = [4, 3, 1]
    result = ours(x, lengths=lengths)
    want_out, (want_h, want_c) = torch_oracle(reference, x, lengths, "post", True)
    assert result.output.shape == (BATCH, TIME, 8)
    assert result.h_n.shape == (4, BATCH, 4) and result.c_n.shape == (4, BATCH, HIDDEN)
    torch.testing.assert_close(result.output, want_out, atol=1e-10, rtol=0)
    torch.testing.assert_close(result.h_n, want_h, atol=1e-10, rtol=0)
    torch.testing.assert_close(result.c_n, want_c, atol=1e-10, rtol=0)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("fused", [True, False])
def test_initial_state_is_used_like_torch(kind, fused):
    ours, reference = make_pair(kind, torch.float64, num_layers=2, bidirectional=True,
                                batch_first=True)
    ours.use_fused_kernel = fused
    x = torch.randn(BATCH, TIME, INPUT, dtype=torch.float64)
    h0 = torch.randn(4, BATCH, HIDDEN, dtype=torch.float64)
    initial = (h0, torch.randn_like(h0)) if kind == "lstm" else h0
    lengths = [4, 2, 3]
    result = ours(x, lengths=lengths, initial_state=initial)
    want_out, want_state = torch_oracle(reference, x, lengths, "post", True, h0=initial)
    torch.testing.assert_close(result.output, want_out, atol=1e-10, rtol=0)
    for got, want in zip(_states(result.state), _states(want_state)):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=0)


@pytest.mark.parametrize("cell", ["lstm", "peephole", "cifg", "layernorm"])
@pytest.mark.parametrize("padding", ["post", "pre"])
def test_length_zero_gives_zero_outputs_and_initial_state(cell, padding):
    layer = rnnlab.LSTM(INPUT, HIDDEN, 2, batch_first=True, bidirectional=True, cell=cell)
    x = torch.randn(BATCH, TIME, INPUT)
    h0 = torch.randn(4, BATCH, HIDDEN)
    c0 = torch.randn(4, BATCH, HIDDEN)
    result = layer(x, lengths=[0, 3, 0], padding=padding, initial_state=(h0, c0))
    assert torch.all(result.output[[0, 2]] == 0)
    torch.testing.assert_close(result.h_n[:, [0, 2]], h0[:, [0, 2]], atol=0, rtol=0)
    torch.testing.assert_close(result.c_n[:, [0, 2]], c0[:, [0, 2]], atol=0, rtol=0)


def test_state_dict_round_trips_between_rnnlab_and_torch():
    reference = torch.nn.GRU(INPUT, HIDDEN, 3, bidirectional=True)
    ours = rnnlab.GRU(INPUT, HIDDEN, 3, bidirectional=True)
    assert list(ours.state_dict()) == list(reference.state_dict())
    ours.load_state_dict(reference.state_dict())
    back = torch.nn.GRU(INPUT, HIDDEN, 3, bidirectional=True)
    back.load_state_dict(ours.state_dict())
    for name, value in reference.state_dict().items():
        assert torch.equal(back.state_dict()[name], value)
    assert ours.weight_hh_l2_reverse is ours.cells[5].weight_hh


def test_unbatched_input_matches_torch():
    ours, reference = make_pair("lstm", torch.float64, num_layers=2, bidirectional=True)
    x = torch.randn(TIME, INPUT, dtype=torch.float64)
    output, (h_n, c_n) = ours(x)
    want_out, (want_h, want_c) = reference(x)
    torch.testing.assert_close(output, want_out, atol=1e-10, rtol=0)
    torch.testing.assert_close(h_n, want_h, atol=1e-10, rtol=0)
    torch.testing.assert_close(c_n, want_c, atol=1e-10, rtol=0)


@pytest.mark.parametrize("lengths", [[4, 2, 1], torch.tensor([4, 2, 1], dtype=torch.int32),
                                     torch.tensor([4.0, 2.0, 1.0])])
def test_lengths_accept_lists_arrays_and_any_tensor_dtype(lengths):
    import numpy as np
    layer = rnnlab.LSTM(INPUT, HIDDEN, batch_first=True)
    x = torch.randn(BATCH, TIME, INPUT)
    expected = layer(x, lengths=np.array([4, 2, 1])).output
    torch.testing.assert_close(layer(x, lengths=lengths).output, expected, atol=0, rtol=0)


def test_dropout_between_layers_is_active_in_training_only():
    layer = rnnlab.LSTM(INPUT, HIDDEN, 2, dropout=0.5, batch_first=True)
    x = torch.randn(BATCH, TIME, INPUT)
    layer.eval()
    assert torch.equal(layer(x).output, layer(x).output)
    layer.train()
    torch.manual_seed(1)
    first = layer(x).output
    torch.manual_seed(2)
    assert not torch.equal(first, layer(x).output)


def test_same_seed_gives_bitwise_identical_outputs():
    def run():
        torch.manual_seed(7)
        layer = rnnlab.LSTM(INPUT, HIDDEN, 2, bidirectional=True, dropout=0.3, cell="peephole")
        return layer(torch.randn(TIME, BATCH, INPUT), lengths=[4, 1, 3]).output
    assert torch.equal(run(), run())


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_lengths_path_matches_packed_torch_at_a_realistic_float32_size(kind):
    # Big enough for torch's oneDNN kernel to take over the unpacked runs.
    torch_cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    ours_cls = rnnlab.LSTM if kind == "lstm" else rnnlab.GRU
    reference = torch_cls(16, 32, 2, batch_first=True, bidirectional=True)
    ours = ours_cls(16, 32, 2, batch_first=True, bidirectional=True)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(8, 30, 16)
    lengths = torch.randint(1, 31, (8,), generator=torch.Generator().manual_seed(3))
    result = ours(x, lengths=lengths, padding="pre")
    want_out, want_state = torch_oracle(reference, x, lengths.tolist(), "pre", True)
    torch.testing.assert_close(result.output, want_out, atol=1e-5, rtol=0)
    for got, want in zip(_states(result.state), _states(want_state)):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_cell_state_read_after_an_optimiser_step_is_the_forward_time_one():
    layer = rnnlab.LSTM(INPUT, HIDDEN, 2, bidirectional=True, batch_first=True).double()
    x = torch.randn(BATCH, TIME, INPUT, dtype=torch.float64)
    expected = layer(x, lengths=[4, 2, 3]).c_n.detach().clone()
    result = layer(x, lengths=[4, 2, 3])
    result.output.sum().backward()
    torch.optim.SGD(layer.parameters(), lr=1.0).step()  # weights change in place
    torch.testing.assert_close(result.c_n, expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("grad", [True, False])
def test_inference_and_training_paths_give_the_same_numbers(kind, grad):
    # GRU/RNN switch to the packed kernel under no_grad (see Recurrent._path).
    ours, reference = make_pair(kind, torch.float64, num_layers=2, bidirectional=True,
                                batch_first=True)
    x = torch.randn(BATCH, TIME, INPUT, dtype=torch.float64)
    lengths = [4, 2, 0]
    with torch.set_grad_enabled(grad):
        result = ours(x, lengths=lengths, padding="pre")
    want_out, want_state = torch_oracle(reference, x, lengths, "pre", True)
    torch.testing.assert_close(result.output[:2], want_out[:2], atol=1e-10, rtol=0)
    for got, want in zip(_states(result.state), _states(want_state)):
        torch.testing.assert_close(got[:, :2], want[:, :2].detach(), atol=1e-10, rtol=0)
    assert torch.all(result.output[2] == 0)
