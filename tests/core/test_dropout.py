"""The recurrent dropout family: each method against a hand-written oracle that draws the same
masks, plus the semantics every method promises (constant over time, expected value, eval)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import rnnlab
from rnnlab.core.dropout import LockedDropout, bernoulli_mask, locked_dropout
from tests.core.conftest import BATCH, HIDDEN, INPUT, TIME

DROPOUTS = {
    "input_dropout": 0.3, "layer_dropout": 0.3, "output_dropout": 0.3,
    "recurrent_dropout": 0.3, "weight_dropout": 0.3, "zoneout": 0.3,
}
CELLS = ["lstm", "gru", "rnn_tanh", "peephole", "cifg", "layernorm", "user"]


class MinimalGatedCell(rnnlab.RecurrentCell):
    """A user cell (Zhou et al. 2016's minimal gated unit) that supports recurrent dropout by
    passing h through recurrent_input."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = torch.nn.Parameter(torch.randn(2 * hidden_size, input_size) * 0.3)
        self.weight_hh = torch.nn.Parameter(torch.randn(2 * hidden_size, hidden_size) * 0.3)

    def forward(self, x_t, state):
        (h,) = state
        f_x, n_x = F.linear(x_t, self.weight_ih).chunk(2, -1)
        f_h, n_h = F.linear(self.recurrent_input(h), self.weight_hh).chunk(2, -1)
        f = torch.sigmoid(f_x + f_h)
        h_next = (1 - f) * h + f * torch.tanh(n_x + f * n_h)
        return h_next, (h_next,)


def build(cell: str, **kwargs) -> rnnlab.Recurrent:
    if cell == "user":
        return rnnlab.Recurrent(INPUT, HIDDEN, cell=MinimalGatedCell, **kwargs)
    if cell == "gru":
        return rnnlab.GRU(INPUT, HIDDEN, **kwargs)
    if cell == "rnn_tanh":
        return rnnlab.RNN(INPUT, HIDDEN, **kwargs)
    return rnnlab.LSTM(INPUT, HIDDEN, cell=cell, **kwargs)


@pytest.mark.parametrize("method", DROPOUTS)
@pytest.mark.parametrize("cell", CELLS)
def test_every_method_runs_on_every_cell_and_only_in_training(cell, method):
    torch.manual_seed(0)
    layer = build(cell, num_layers=2, bidirectional=True, batch_first=True,
                  **{method: DROPOUTS[method]})
    plain = build(cell, num_layers=2, bidirectional=True, batch_first=True)
    plain.load_state_dict(layer.state_dict())
    x, lengths = torch.randn(BATCH, TIME, INPUT), [4, 2, 1]
    layer.train()
    first = layer(x, lengths=lengths)
    second = layer(x, lengths=lengths)
    assert not torch.equal(first.output, second.output), "training draws new masks"
    assert torch.all(first.output[~rnnlab.lengths_to_mask(torch.tensor(lengths), TIME)] == 0)
    (first.output.sum() + first.h_n.sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters() if p.grad is not None)
    layer.eval(), plain.eval()
    if method != "zoneout":  # zoneout evaluates with its expectation (tested below)
        torch.testing.assert_close(layer(x, lengths=lengths).output,
                                   plain(x, lengths=lengths).output, rtol=0, atol=0)


def test_same_seed_draws_the_same_masks():
    layer = rnnlab.LSTM(INPUT, HIDDEN, num_layers=2, **DROPOUTS)
    x = torch.randn(TIME, BATCH, INPUT)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(layer(x).output)
    assert torch.equal(*runs)


def test_locked_dropout_keeps_one_mask_for_every_step_and_the_expected_value():
    x = torch.ones(400, 50, 8)
    dropped = locked_dropout(x, 0.25, training=True)
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped)), "mask constant over time"
    assert set(dropped.unique().tolist()) == {0.0, torch.tensor(1 / 0.75).item()}
    assert abs(dropped.mean().item() - 1.0) < 0.03
    assert torch.equal(locked_dropout(x, 0.25, training=False), x)
    time_major = LockedDropout(0.25, batch_first=False).train()(x.transpose(0, 1))
    assert torch.equal(time_major, time_major[:1].expand_as(time_major))


def test_weight_drop_stays_on_the_fused_kernel_and_leaves_the_stored_weights_untouched():
    torch.manual_seed(0)
    layer = rnnlab.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True, weight_dropout=0.5)
    reference = torch.nn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True)
    reference.load_state_dict(layer.state_dict())
    stored = {name: p.detach().clone() for name, p in layer.named_parameters()}
    assert layer._path(has_lengths=False) == "whole"
    x = torch.randn(TIME, BATCH, INPUT)
    torch.manual_seed(5)
    got = layer(x)
    # Oracle: the same draws, cell by cell (layer-major, forward first), as torch.nn weights.
    torch.manual_seed(5)
    masks = {}
    with torch.no_grad():
        for name, parameter in reference.named_parameters():
            if name.startswith("weight_hh"):
                dropped = parameter * bernoulli_mask(parameter.shape, 0.5, parameter)
                masks[name] = dropped != 0
                parameter.copy_(dropped)
    torch.testing.assert_close(got.output, reference(x)[0])
    got.output.sum().backward()
    for name, parameter in layer.named_parameters():
        assert torch.equal(parameter.detach(), stored[name]), f"{name} was changed"
        if name in masks:  # gradients reach the kept entries only
            assert torch.all(parameter.grad[~masks[name]] == 0)
            assert parameter.grad[masks[name]].abs().sum() > 0


def _lstm_step(cell, x_t, h, c, h_for_recurrence):
    gates = F.linear(x_t, cell.weight_ih, cell.bias_ih) + F.linear(h_for_recurrence,
                                                                   cell.weight_hh, cell.bias_hh)
    i, f, g, o = gates.chunk(4, -1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def test_recurrent_dropout_drops_h_where_it_enters_w_hh_with_one_mask_per_sequence():
    torch.manual_seed(0)
    layer = rnnlab.LSTM(INPUT, HIDDEN, batch_first=True, recurrent_dropout=0.4)
    x = torch.randn(BATCH, TIME, INPUT)
    torch.manual_seed(11)
    got = layer(x).output
    torch.manual_seed(11)
    mask = bernoulli_mask((BATCH, HIDDEN), 0.4, x)  # drawn once, before the first step
    cell, h, c, outputs = layer.cells[0], torch.zeros(BATCH, HIDDEN), torch.zeros(BATCH, HIDDEN), []
    for t in range(TIME):
        h, c = _lstm_step(cell, x[:, t], h, c, h * mask)
        outputs.append(h)
    torch.testing.assert_close(got, torch.stack(outputs, 1))


def test_gru_recurrent_dropout_leaves_the_carried_state_undropped():
    # Keras's GRU: h' = z ⊙ h + (1 − z) ⊙ n uses the undropped h; only W_hh h sees the mask.
    torch.manual_seed(0)
    layer = rnnlab.GRU(INPUT, HIDDEN, batch_first=True, recurrent_dropout=0.4)
    x = torch.randn(BATCH, TIME, INPUT)
    torch.manual_seed(3)
    got = layer(x).output
    torch.manual_seed(3)
    mask = bernoulli_mask((BATCH, HIDDEN), 0.4, x)
    cell, h, outputs = layer.cells[0], torch.zeros(BATCH, HIDDEN), []
    for t in range(TIME):
        x_r, x_z, x_n = F.linear(x[:, t], cell.weight_ih, cell.bias_ih).chunk(3, -1)
        h_r, h_z, h_n = F.linear(h * mask, cell.weight_hh, cell.bias_hh).chunk(3, -1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        h = (1 - z) * torch.tanh(x_n + r * h_n) + z * h
        outputs.append(h)
    torch.testing.assert_close(got, torch.stack(outputs, 1))


def test_zoneout_keeps_units_with_fresh_masks_per_step_and_evaluates_its_expectation():
    torch.manual_seed(0)
    rates = (0.3, 0.6)
    layer = rnnlab.LSTM(INPUT, HIDDEN, batch_first=True, zoneout=rates)
    x = torch.randn(BATCH, TIME, INPUT)
    cell = layer.cells[0]

    def oracle(training: bool):
        h, c, outputs = torch.zeros(BATCH, HIDDEN), torch.zeros(BATCH, HIDDEN), []
        for t in range(TIME):
            h_new, c_new = _lstm_step(cell, x[:, t], h, c, h)
            if training:
                keep_h = torch.empty_like(h_new).uniform_() < rates[0]
                keep_c = torch.empty_like(c_new).uniform_() < rates[1]
                h, c = torch.where(keep_h, h, h_new), torch.where(keep_c, c, c_new)
            else:
                h = rates[0] * h + (1 - rates[0]) * h_new
                c = rates[1] * c + (1 - rates[1]) * c_new
            outputs.append(h)
        return torch.stack(outputs, 1), c

    torch.manual_seed(4)
    got = layer(x)
    torch.manual_seed(4)
    want_out, want_c = oracle(training=True)
    torch.testing.assert_close(got.output, want_out)
    torch.testing.assert_close(got.c_n[0], want_c)
    layer.eval()
    torch.testing.assert_close(layer(x).output, oracle(training=False)[0])


def test_layer_dropout_is_locked_between_layers():
    torch.manual_seed(0)
    layer = rnnlab.LSTM(INPUT, HIDDEN, num_layers=2, batch_first=True, layer_dropout=0.5)
    x = torch.randn(BATCH, TIME, INPUT)
    torch.manual_seed(9)
    got = layer(x).output
    first = rnnlab.LSTM(INPUT, HIDDEN, batch_first=True)
    second = rnnlab.LSTM(HIDDEN, HIDDEN, batch_first=True)
    with torch.no_grad():
        for target, index in ((first, 0), (second, 1)):
            for name, value in layer.cells[index].named_weights():
                getattr(target.cells[0], name).copy_(value)
    torch.manual_seed(9)
    between = first(x).output
    want = second(between * bernoulli_mask((BATCH, 1, HIDDEN), 0.5, between)).output
    torch.testing.assert_close(got, want)


def test_a_user_cell_that_skips_recurrent_input_is_told_so():
    class Careless(rnnlab.RecurrentCell):
        def __init__(self, input_size, hidden_size, bias=True):
            super().__init__()
            self.input_size, self.hidden_size = input_size, hidden_size
            self.weight_hh = torch.nn.Parameter(torch.zeros(hidden_size, hidden_size))
            self.weight_ih = torch.nn.Parameter(torch.zeros(hidden_size, input_size))

        def forward(self, x_t, state):
            h = torch.tanh(F.linear(x_t, self.weight_ih) + F.linear(state[0], self.weight_hh))
            return h, (h,)

    layer = rnnlab.Recurrent(INPUT, HIDDEN, cell=Careless, recurrent_dropout=0.2)
    with pytest.raises(TypeError, match=r"never passed h through self.recurrent_input\(h\)"):
        layer(torch.randn(TIME, BATCH, INPUT))


@pytest.mark.parametrize("argument,value", [
    ("input_dropout", 1.0), ("recurrent_dropout", -0.1), ("weight_dropout", True),
    ("zoneout", (0.1, 0.2, 0.3)),
])
def test_bad_rates_are_refused_by_name(argument, value):
    with pytest.raises(ValueError, match=argument):
        rnnlab.LSTM(INPUT, HIDDEN, **{argument: value})
