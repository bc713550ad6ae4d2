"""User cells that define ``update`` (the elementwise part of a step) run through
rnnlab.core.split_step: hand-written BPTT around the cell's update, checked against the plain
time loop (autograd through every step), torch.nn.LSTM, and finite differences."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import rnnlab
from rnnlab.core import directions
from rnnlab.core.split_step import splits_step


class MinimalLSTM(rnnlab.RecurrentCell):
    """An LSTM written as a user would with the update split: torch.nn.LSTM's gate order."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = torch.nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = torch.nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = torch.nn.Parameter(torch.empty(4 * hidden_size)) if bias else None
        self.bias_hh = torch.nn.Parameter(torch.empty(4 * hidden_size)) if bias else None
        self.reset_parameters()

    @property
    def state_sizes(self) -> tuple[int, int]:
        return (self.hidden_size, self.hidden_size)

    def precompute(self, inputs):
        return F.linear(inputs, self.weight_ih, self.bias_ih)

    def update(self, gates, state):
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class ScaledMGU(rnnlab.RecurrentCell):
    """A one-state cell whose update reads a parameter of its own (a per-unit gain) and
    whose output is not its state: the gain's gradient must come out of the update's VJP."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.input_map = torch.nn.Linear(input_size, 2 * hidden_size, bias=bias)
        self.weight_hh = torch.nn.Parameter(torch.empty(2 * hidden_size, hidden_size))
        self.gain = torch.nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def precompute(self, inputs):
        return self.input_map(inputs)

    def update(self, gates, state):
        f, n = gates.chunk(2, dim=-1)
        f = torch.sigmoid(f)
        h = (1 - f) * state[0] + f * torch.tanh(n * (1 + self.gain))
        return h, (h,)


class MinimalGRU(rnnlab.RecurrentCell):
    """A GRU written as a user would: its reset gate scales only the recurrent candidate rows,
    so it takes the recurrent product apart (update_takes_parts); torch.nn.GRU's gate order
    (reset, update, new) and biases."""

    update_takes_parts = True

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = torch.nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = torch.nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih = torch.nn.Parameter(torch.empty(3 * hidden_size)) if bias else None
        self.bias_hh = torch.nn.Parameter(torch.empty(3 * hidden_size)) if bias else None
        self.reset_parameters()

    def precompute(self, inputs):
        return F.linear(inputs, self.weight_ih, self.bias_ih)

    def update(self, x_t, hh_t, state):
        x_r, x_z, x_n = x_t.chunk(3, dim=-1)
        h_r, h_z, h_n = hh_t.chunk(3, dim=-1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * state[0]
        return h, (h,)


def pair(cell, seed=0, **kwargs):
    """The same layer twice: the split runner and the plain loop (use_fused_kernel=False)."""
    torch.manual_seed(seed)
    split = rnnlab.Recurrent(5, 6, cell=cell, batch_first=True, **kwargs).double()
    loop = rnnlab.Recurrent(5, 6, cell=cell, batch_first=True, use_fused_kernel=False,
                            **kwargs).double()
    loop.load_state_dict(split.state_dict())
    return split, loop


def outputs_and_gradients(layer, x, hx, lengths, padding, seed=7):
    torch.manual_seed(seed)  # the same recurrent-dropout masks and dropped weights
    result = layer(x, hx, lengths=lengths, padding=padding)
    parts = (result.output, result.h_n, *result.other_states)
    loss = sum(((k + 1) * part.sin()).sum() for k, part in enumerate(parts))
    inputs = [x, *hx, *layer.parameters()]
    return parts, torch.autograd.grad(loss, inputs)


@pytest.mark.parametrize("cell", [MinimalLSTM, ScaledMGU, MinimalGRU])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("padding", ["post", "pre", None])
@pytest.mark.parametrize("dropout", [{}, {"recurrent_dropout": 0.4}, {"weight_dropout": 0.4}])
def test_split_runner_equals_the_loop(cell, layers, bidirectional, padding, dropout):
    split, loop = pair(cell, num_layers=layers, bidirectional=bidirectional, **dropout)
    assert split._path(True, 6, torch.zeros(1, dtype=torch.double)) == "split"
    assert loop._path(True, 6, torch.zeros(1, dtype=torch.double)) == "loop"
    x = torch.randn(4, 6, 5, dtype=torch.double, requires_grad=True)
    states = len(cell(5, 6).state_sizes)
    hx = tuple(torch.randn(layers * (1 + bidirectional), 4, 6, dtype=torch.double,
                           requires_grad=True) for _ in range(states))
    lengths = None if padding is None else torch.tensor([6, 3, 0, 1])
    got, got_grads = outputs_and_gradients(split, x, hx, lengths, padding or "post")
    want, want_grads = outputs_and_gradients(loop, x, hx, lengths, padding or "post")
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(got_grads, want_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_split_runner_is_what_runs(monkeypatch):
    calls = []
    original = directions.run_split_step

    def spy(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(directions, "run_split_step", spy)
    layer = rnnlab.Recurrent(5, 6, cell=MinimalLSTM, num_layers=2, bidirectional=True)
    layer(torch.randn(3, 4, 5)).output.sum().backward()
    assert len(calls) == 4  # every layer and direction
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())


def test_minimal_lstm_matches_torch_lstm():
    torch.manual_seed(0)
    reference = torch.nn.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True)
    layer = rnnlab.Recurrent(5, 6, cell=MinimalLSTM, num_layers=2, bidirectional=True,
                             batch_first=True)
    layer.load_state_dict(reference.state_dict())  # torch's flat names map onto the cells
    x = torch.randn(3, 7, 5, requires_grad=True)
    (want, (h_want, c_want)) = reference(x)
    got = layer(x)
    torch.testing.assert_close(got.output, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got.h_n, h_want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got.other_states[0], c_want, rtol=1e-5, atol=1e-6)
    (grad_got,) = torch.autograd.grad(got.output.square().sum(), x)
    (grad_want,) = torch.autograd.grad(want.square().sum(), x)
    torch.testing.assert_close(grad_got, grad_want, rtol=1e-5, atol=1e-6)
    assert {name for name, _ in layer.named_parameters()} == {
        name for name, _ in reference.named_parameters()}
    grads = torch.autograd.grad(layer(x).output.square().sum(), list(layer.parameters()))
    theirs = torch.autograd.grad(reference(x)[0].square().sum(),
                                 [dict(reference.named_parameters())[name]
                                  for name, _ in layer.named_parameters()])
    for a, b in zip(grads, theirs):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bias", [True, False])
def test_minimal_gru_taking_the_recurrent_product_apart_matches_torch_gru(bias):
    torch.manual_seed(0)
    reference = torch.nn.GRU(5, 6, num_layers=2, bidirectional=True, batch_first=True,
                             bias=bias)
    layer = rnnlab.Recurrent(5, 6, cell=MinimalGRU, num_layers=2, bidirectional=True,
                             batch_first=True, bias=bias)
    assert layer._path(True, 7, torch.zeros(1)) == "split"
    layer.load_state_dict(reference.state_dict())
    x = torch.randn(3, 7, 5, requires_grad=True)
    want, h_want = reference(x)
    got = layer(x)
    torch.testing.assert_close(got.output, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got.h_n, h_want, rtol=1e-5, atol=1e-6)
    names = [name for name, _ in layer.named_parameters()]
    theirs = dict(reference.named_parameters())
    grads = torch.autograd.grad(got.output.square().sum() + got.h_n.sum(),
                                [x, *layer.parameters()])
    expected = torch.autograd.grad(want.square().sum() + h_want.sum(),
                                   [x, *(theirs[name] for name in names)])
    for name, a, b in zip(["x", *names], grads, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_gradcheck_of_the_parts_split_with_lengths():
    torch.manual_seed(1)
    layer = rnnlab.Recurrent(3, 4, cell=MinimalGRU, bidirectional=True,
                             batch_first=True).double()
    x = torch.randn(3, 5, 3, dtype=torch.double, requires_grad=True)
    bias = layer.cells[0].bias_hh

    def run(x, bias_value):
        with layer.cells[0].weights_replaced({"bias_hh": bias_value}):
            result = layer(x, lengths=torch.tensor([5, 2, 0]))
        return result.output, result.h_n

    assert torch.autograd.gradcheck(run, (x, bias.detach().clone().requires_grad_()))


def test_gradcheck_with_lengths_and_an_update_parameter():
    torch.manual_seed(0)
    layer = rnnlab.Recurrent(3, 4, cell=ScaledMGU, bidirectional=True,
                             batch_first=True).double()
    with torch.no_grad():
        layer.cells[0].gain.uniform_(-0.5, 0.5)
    x = torch.randn(3, 5, 3, dtype=torch.double, requires_grad=True)
    lengths = torch.tensor([5, 2, 0])
    gain = layer.cells[1].gain

    def run(x, gain_value):
        with layer.cells[1].weights_replaced({"gain": gain_value}):
            result = layer(x, lengths=lengths)
        return result.output, result.h_n

    assert torch.autograd.gradcheck(run, (x, gain.detach().clone().requires_grad_()))


def test_a_cell_that_overrides_step_keeps_the_loop():
    class OwnStep(MinimalLSTM):
        def step(self, projected_t, state):
            return self.update(projected_t + self.recurrent_product(state[0]), state)

    assert splits_step(MinimalLSTM(2, 3)) and not splits_step(OwnStep(2, 3))
    layer = rnnlab.Recurrent(2, 3, cell=OwnStep)
    assert layer._path(True, 4, torch.zeros(1)) == "loop"
    zoned = rnnlab.Recurrent(2, 3, cell=MinimalLSTM, zoneout=0.2)
    assert zoned._path(True, 4, torch.zeros(1)) == "loop"


def test_a_cell_defining_neither_forward_nor_update_is_told_what_to_define():
    class Empty(rnnlab.RecurrentCell):
        def __init__(self, input_size, hidden_size, bias=True):
            super().__init__()
            self.input_size, self.hidden_size = input_size, hidden_size

    with pytest.raises(NotImplementedError, match="forward.*update"):
        Empty(2, 3)(torch.zeros(1, 2), (torch.zeros(1, 3),))


def test_mismatched_split_sizes_name_the_part_to_change():
    class Narrow(MinimalLSTM):
        def precompute(self, inputs):
            return super().precompute(inputs)[..., :-1]

    layer = rnnlab.Recurrent(2, 3, cell=Narrow)
    with pytest.raises(ValueError, match=r"Narrow.precompute returns 11 features.*weight_hh "
                                         r"has 12 rows"):
        layer(torch.zeros(4, 1, 2))


def test_second_order_gradients_are_refused_not_wrong():
    layer = rnnlab.Recurrent(2, 3, cell=MinimalLSTM).double()
    x = torch.randn(4, 2, 2, dtype=torch.double, requires_grad=True)
    with pytest.raises(RuntimeError, match="differentiated twice.*use_fused_kernel=False"):
        torch.autograd.grad(layer(x).output.sum(), x, create_graph=True)
    layer.use_fused_kernel = False  # the way out the message names works
    (grad,) = torch.autograd.grad(layer(x).output.sum(), x, create_graph=True)
    grad.sum().backward()
