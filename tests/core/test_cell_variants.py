"""LSTM variants against NumPy transcriptions of their papers' equations, and user cells
against torch.nn, all through the multi-layer bidirectional padded machinery.

The oracle runs each sequence on its own, unpadded, so it shares no masking code with rnnlab.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import rnnlab
from tests.core.conftest import BATCH, HIDDEN, INPUT, TIME
from tests.core.test_layers import torch_oracle


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def layer_norm(v, weight, bias, eps=1e-5):
    mean = v.mean(-1, keepdims=True)
    var = v.var(-1, keepdims=True)
    return (v - mean) / np.sqrt(var + eps) * weight + bias


def peephole_step(p, x, h, c):
    z = p["weight_ih"] @ x + p["bias_ih"] + p["weight_hh"] @ h + p["bias_hh"]
    i, f, g, o = np.split(z, 4)
    p_i, p_f, p_o = p["weight_peephole"]
    c_new = sigmoid(f + p_f * c) * c + sigmoid(i + p_i * c) * np.tanh(g)
    h_new = sigmoid(o + p_o * c_new) * np.tanh(c_new)
    return h_new, c_new


def cifg_step(p, x, h, c):
    z = p["weight_ih"] @ x + p["bias_ih"] + p["weight_hh"] @ h + p["bias_hh"]
    i, g, o = np.split(z, 3)
    c_new = (1 - sigmoid(i)) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_new), c_new


def layernorm_step(p, x, h, c):
    z = (layer_norm(p["weight_ih"] @ x, p["layernorm_ih.weight"], p["layernorm_ih.bias"])
         + layer_norm(p["weight_hh"] @ h, p["layernorm_hh.weight"], p["layernorm_hh.bias"])
         + p["bias_ih"] + p["bias_hh"])
    i, f, g, o = np.split(z, 4)
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    cell = layer_norm(c_new, p["layernorm_cell.weight"], p["layernorm_cell.bias"])
    return sigmoid(o) * np.tanh(cell), c_new


STEPS = {"peephole": peephole_step, "cifg": cifg_step, "layernorm": layernorm_step}


def numpy_stack(step, cells, x, num_layers, directions):
    """One unpadded sequence ``x (length, input)`` through the stack; torch-layout finals."""
    layer_input, finals_h, finals_c = x, [], []
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            p = cells[layer * directions + direction]
            h, c = np.zeros(HIDDEN), np.zeros(HIDDEN)
            order = range(len(x)) if direction == 0 else reversed(range(len(x)))
            out = np.zeros((len(x), HIDDEN))
            for t in order:
                h, c = step(p, layer_input[t], h, c)
                out[t] = h
            outputs.append(out)
            finals_h.append(h)
            finals_c.append(c)
        layer_input = np.concatenate(outputs, axis=-1)
    return layer_input, np.stack(finals_h), np.stack(finals_c)


@pytest.mark.parametrize("cell", ["peephole", "cifg", "layernorm"])
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True), (3, True)])
@pytest.mark.parametrize("padding", ["post", "pre"])
def test_variant_cells_follow_their_equations(cell, num_layers, bidirectional, padding):
    layer = rnnlab.LSTM(INPUT, HIDDEN, num_layers, batch_first=True,
                        bidirectional=bidirectional, cell=cell).double()
    with torch.no_grad():  # non-trivial norms, so a swapped α/β would show
        for name, parameter in layer.named_parameters():
            if "layernorm" in name:
                parameter.uniform_(0.5, 1.5)
    x = torch.randn(BATCH, TIME, INPUT, dtype=torch.float64)
    lengths = [4, 2, 3]
    result = layer(x, lengths=lengths, padding=padding)
    cells = [{k: v.detach().numpy() for k, v in c.state_dict().items()} for c in layer.cells]
    directions = 2 if bidirectional else 1
    for row, length in enumerate(lengths):
        start = 0 if padding == "post" else TIME - length
        real = slice(start, start + length)
        want_out, want_h, want_c = numpy_stack(STEPS[cell], cells, x[row, real].numpy(),
                                               num_layers, directions)
        np.testing.assert_allclose(result.output[row, real].detach().numpy(), want_out,
                                   atol=1e-12, rtol=0)
        np.testing.assert_allclose(result.h_n[:, row].detach().numpy(), want_h, atol=1e-12)
        np.testing.assert_allclose(result.c_n[:, row].detach().numpy(), want_c, atol=1e-12)


def test_cifg_has_one_gate_fewer_and_coupled_forget():
    layer = rnnlab.LSTM(INPUT, HIDDEN, cell="cifg")
    assert layer.weight_ih_l0.shape == (3 * HIDDEN, INPUT)
    assert "weight_peephole_l0" in rnnlab.LSTM(INPUT, HIDDEN, cell="peephole").state_dict()


class WrappedGRUCell(rnnlab.RecurrentCell):
    """A user-written cell: torch.nn.GRUCell behind the documented step signature."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.inner = nn.GRUCell(input_size, hidden_size, bias)

    def forward(self, x_t, state):
        h = self.inner(x_t, state[0])
        return h, (h,)


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_user_cell_runs_multi_layer_bidirectional_like_torch(padding):
    layer = rnnlab.Recurrent(INPUT, HIDDEN, 2, bidirectional=True, batch_first=True,
                             cell=WrappedGRUCell).double()
    reference = nn.GRU(INPUT, HIDDEN, 2, bidirectional=True, batch_first=True).double()
    renamed = {k.replace("inner_", ""): v for k, v in layer.state_dict().items()}
    reference.load_state_dict(renamed)
    x = torch.randn(BATCH, TIME, INPUT, dtype=torch.float64)
    lengths = [4, 1, 3]
    result = layer(x, lengths=lengths, padding=padding)
    want_out, want_h = torch_oracle(reference, x, lengths, padding, True)
    torch.testing.assert_close(result.output, want_out, atol=1e-10, rtol=0)
    torch.testing.assert_close(result.h_n, want_h, atol=1e-10, rtol=0)
    assert result.c_n is None


def test_user_cell_factory_must_follow_the_protocol():
    with pytest.raises(TypeError, match="state_sizes"):
        rnnlab.Recurrent(INPUT, HIDDEN, cell=lambda i, h, bias: nn.Linear(i, h))


@pytest.mark.parametrize("cell", ["lstm", "peephole", "cifg", "layernorm"])
def test_one_training_step_lowers_the_loss(cell):
    layer = rnnlab.LSTM(INPUT, HIDDEN, 2, bidirectional=True, batch_first=True, cell=cell)
    head = nn.Linear(2 * HIDDEN, 1)
    x, target = torch.randn(BATCH, TIME, INPUT), torch.randn(BATCH, 1)
    optimizer = torch.optim.SGD([*layer.parameters(), *head.parameters()], lr=0.1)

    def loss():
        return ((head(layer(x, lengths=[4, 2, 3]).last) - target) ** 2).mean()

    before = loss()
    before.backward()
    optimizer.step()
    assert loss().item() < before.item()
