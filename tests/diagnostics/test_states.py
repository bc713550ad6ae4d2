"""The gate and state tracer: its recomputed states are the fused kernel's and torch.nn's,
its gates obey the cell equations, and it reads models, runs and user cells.

Oracles: ``torch.nn.LSTM/GRU/RNN`` loaded with the same weights (their fused kernels), the
layer's own output, and each cell's equations checked on the recorded gates.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import rnnlab
from rnnlab.diagnostics.states import StateTrace, trace_layer, trace_model
from rnnlab.diagnostics.unit_search import rank_units, regex_track
from tests.diagnostics.planted import (
    PLANTED_UNIT,
    QUOTE_PATTERN,
    QUOTED_TEXT,
    PlantedCharModel,
    encode,
)

TIME, INPUT, HIDDEN = 7, 5, 6
# The loop and a fused kernel (torch's oneDNN, rnnlab's native) sum in different orders.
KERNEL_ATOL = 1e-5
TORCH_LAYERS = {"lstm": (rnnlab.LSTM, nn.LSTM), "gru": (rnnlab.GRU, nn.GRU),
                "rnn": (rnnlab.RNN, nn.RNN)}


def torch_twin(ours: nn.Module, torch_class: type, **kwargs) -> nn.Module:
    """A torch.nn layer holding ``ours``'s weights (torch's parameter names are ours)."""
    twin = torch_class(INPUT, HIDDEN, batch_first=True, **kwargs)
    twin.load_state_dict(ours.state_dict())
    return twin.eval()


def per_layer_torch(twin: nn.Module, layer: int, torch_class: type) -> nn.Module:
    """Layer ``layer`` of ``twin`` alone, as a one-layer torch layer (torch returns only
    the top layer's outputs, so every layer is checked on its own)."""
    suffixes = ["", "_reverse"] if twin.bidirectional else [""]
    size = twin.input_size if layer == 0 else twin.hidden_size * len(suffixes)
    single = torch_class(size, twin.hidden_size, batch_first=True,
                         bidirectional=twin.bidirectional)
    state = {name.replace(f"_l{layer}", "_l0"): value
             for name, value in twin.state_dict().items() if f"_l{layer}" in name}
    single.load_state_dict(state)
    return single.eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recomputed_states_equal_torch_fused_kernel_per_layer(cell, num_layers, bidirectional):
    torch.manual_seed(0)
    ours_class, torch_class = TORCH_LAYERS[cell]
    ours = ours_class(INPUT, HIDDEN, num_layers=num_layers, bidirectional=bidirectional,
                      batch_first=True).eval()
    twin = torch_twin(ours, torch_class, num_layers=num_layers, bidirectional=bidirectional)
    x = torch.randn(1, TIME, INPUT)
    trace = trace_layer(ours, x)
    assert len(trace.directions) == num_layers * (2 if bidirectional else 1)
    layer_input = x
    with torch.no_grad():
        for layer in range(num_layers):
            single = per_layer_torch(twin, layer, torch_class)
            output, final = single(layer_input)
            directions = [d for d in trace.directions if d.layer == layer]
            recomputed = np.concatenate([d.values["h"] for d in directions], axis=1)
            np.testing.assert_allclose(recomputed, output[0].numpy(), atol=KERNEL_ATOL)
            if cell == "lstm":  # the final cell state: forward at the end, backward at 0
                c_n = final[1][:, 0].numpy()
                np.testing.assert_allclose(directions[0].values["c"][-1], c_n[0],
                                           atol=KERNEL_ATOL)
                if bidirectional:
                    np.testing.assert_allclose(directions[1].values["c"][0], c_n[1],
                                               atol=KERNEL_ATOL)
            layer_input = output
        np.testing.assert_allclose(layer_input[0].numpy(), ours(x).output[0].numpy(),
                                   atol=KERNEL_ATOL)


def sigmoid(value):
    return 1 / (1 + np.exp(-value))


def test_lstm_gates_are_torch_weights_applied_to_torch_states():
    """Gates recomputed here equal σ/tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh) with the
    h sequence torch's fused kernel returns, and obey c_t = f c_{t−1} + i g, h = o tanh c."""
    torch.manual_seed(1)
    ours = rnnlab.LSTM(INPUT, HIDDEN, batch_first=True).eval()
    twin = torch_twin(ours, nn.LSTM)
    x = torch.randn(1, TIME, INPUT)
    with torch.no_grad():
        h = twin(x)[0][0].numpy()
    values = trace_layer(ours, x).directions[0].values
    h_prev = np.vstack([np.zeros((1, HIDDEN)), h[:-1]])
    pre = (x[0].numpy() @ twin.weight_ih_l0.detach().numpy().T + twin.bias_ih_l0.detach().numpy()
           + h_prev @ twin.weight_hh_l0.detach().numpy().T + twin.bias_hh_l0.detach().numpy())
    i, f, g, o = np.split(pre, 4, axis=1)
    np.testing.assert_allclose(values["input"], sigmoid(i), atol=KERNEL_ATOL)
    np.testing.assert_allclose(values["forget"], sigmoid(f), atol=KERNEL_ATOL)
    np.testing.assert_allclose(values["candidate"], np.tanh(g), atol=KERNEL_ATOL)
    np.testing.assert_allclose(values["output"], sigmoid(o), atol=KERNEL_ATOL)
    c_prev = np.vstack([np.zeros((1, HIDDEN)), values["c"][:-1]])
    np.testing.assert_allclose(values["c"], values["forget"] * c_prev
                               + values["input"] * values["candidate"], atol=1e-6)
    np.testing.assert_allclose(values["h"], values["output"] * np.tanh(values["c"]), atol=1e-6)


def test_gru_gates_obey_the_gru_update():
    torch.manual_seed(2)
    values = trace_layer(rnnlab.GRU(INPUT, HIDDEN), torch.randn(TIME, INPUT)).directions[0].values
    assert list(values) == ["h", "update", "reset", "new"]
    h_prev = np.vstack([np.zeros((1, HIDDEN)), values["h"][:-1]])
    np.testing.assert_allclose(values["h"], (1 - values["update"]) * values["new"]
                               + values["update"] * h_prev, atol=1e-6)
    assert ((values["reset"] > 0) & (values["reset"] < 1)).all()


@pytest.mark.parametrize("cell", ["peephole", "cifg", "layernorm"])
def test_lstm_variants_expose_gates_and_match_their_layer(cell):
    torch.manual_seed(3)
    layer = rnnlab.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True, cell=cell)
    x = torch.randn(TIME, INPUT)
    trace = trace_layer(layer, x)  # raises if the recomputed h differs from layer(x)
    values = trace.directions[3].values
    assert list(values) == ["h", "c", "input", "forget", "output", "candidate"]
    top = np.concatenate([trace.directions[2].values["h"], values["h"]], axis=1)
    np.testing.assert_allclose(top, layer(x).output.detach().numpy(), atol=KERNEL_ATOL)
    if cell == "cifg":
        np.testing.assert_allclose(values["forget"], 1 - values["input"], atol=1e-7)


def test_projection_zoneout_and_go_backwards_follow_the_layer():
    torch.manual_seed(4)
    x = torch.randn(TIME, INPUT)
    projected = trace_layer(rnnlab.LSTM(INPUT, HIDDEN, proj_size=3, zoneout=0.3, num_layers=2), x)
    assert projected.states("h", 1).shape == (TIME, 3)
    assert projected.states("c", 1).shape == (TIME, HIDDEN)
    backwards = rnnlab.LSTM(INPUT, HIDDEN, go_backwards=True)
    trace = trace_layer(backwards, x)
    assert trace.names == ("layer 0 backward",)
    # Row t is token t: the state after reading x[T-1..t], i.e. processing step T-1-t.
    processing_order = backwards(x).output.detach().numpy()
    np.testing.assert_allclose(trace.states("h"), processing_order[::-1], atol=KERNEL_ATOL)


class NoGateCell(rnnlab.RecurrentCell):
    """A user cell with two state parts and no gate-exposing step."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.linear = nn.Linear(input_size + hidden_size, hidden_size)

    @property
    def state_sizes(self):
        return (self.hidden_size, self.hidden_size)

    def forward(self, x_t, state):
        h, total = state
        h_next = torch.tanh(self.linear(torch.cat([x_t, h], dim=-1)))
        return h_next, (h_next, total + h_next)


class GatedUserCell(NoGateCell):
    """The same cell with a leaky gate it exposes through step_with_gates."""

    def forward(self, x_t, state):
        h_next, new_state, _ = self.step_with_gates(x_t, state)
        return h_next, new_state

    def step_with_gates(self, x_t, state):
        h, total = state
        keep = torch.sigmoid(self.linear(torch.cat([x_t, h], dim=-1)))
        h_next = keep * h + (1 - keep) * torch.tanh(x_t.sum(-1, keepdim=True))
        return h_next, (h_next, total + h_next), {"keep": keep}


def test_a_user_cell_without_gates_shows_its_state_and_says_so():
    torch.manual_seed(5)
    trace = trace_layer(rnnlab.Recurrent(INPUT, HIDDEN, cell=NoGateCell), torch.randn(TIME, INPUT))
    direction = trace.directions[0]
    assert list(direction.values) == ["h", "state1"] and not direction.gates_exposed
    assert len(trace.notes) == 1 and "NoGateCell exposes no gates" in trace.notes[0]
    assert "step_with_gates" in trace.notes[0]


def test_a_user_cell_with_step_with_gates_shows_them():
    torch.manual_seed(6)
    trace = trace_layer(rnnlab.Recurrent(INPUT, HIDDEN, cell=GatedUserCell),
                        torch.randn(TIME, INPUT))
    assert list(trace.directions[0].values) == ["h", "state1", "keep"] and not trace.notes


class LyingCell(GatedUserCell):
    """step_with_gates that does not compute what forward does."""

    def forward(self, x_t, state):
        h_next, new_state, _ = GatedUserCell.step_with_gates(self, x_t, state)
        return h_next, new_state

    def step_with_gates(self, x_t, state):
        h_next, new_state, gates = super().step_with_gates(x_t, state)
        return h_next + 1, new_state, gates


def test_a_gate_step_that_disagrees_with_the_cell_is_refused():
    layer = rnnlab.Recurrent(INPUT, HIDDEN, cell=LyingCell)
    with pytest.raises(RuntimeError, match="differ from the layer's own output"):
        trace_layer(layer, torch.randn(TIME, INPUT))


def test_a_model_is_traced_through_hooks_and_finds_the_planted_quote_unit():
    model = PlantedCharModel()
    trace = trace_model(model, encode(QUOTED_TEXT), tokens=tuple(QUOTED_TEXT))
    assert isinstance(trace, StateTrace) and trace.names == ("rnn layer 0 forward",)
    track = regex_track(QUOTED_TEXT, QUOTE_PATTERN, [(i, i + 1) for i in range(len(QUOTED_TEXT))])
    for kind in ("h", "c"):
        best = rank_units(trace.states(kind), track)[0]
        assert best.unit == PLANTED_UNIT and best.auroc == 1.0
    assert model.training  # restored


def test_the_seed000_model_traces_all_four_lstms():
    from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig

    torch.manual_seed(7)
    model = BidirectionalLM(BidirectionalLMConfig(vocab_size=20, embedding_size=5, hidden_size=6))
    trace = trace_model(model, torch.randint(0, 20, (9,)))
    assert len(trace.directions) == 4
    assert sum(d.direction == "backward" for d in trace.directions) == 2
    assert all(d.values["h"].shape == (9, 6) for d in trace.directions)


def test_bad_model_input_is_named():
    with pytest.raises(ValueError, match="holds no rnnlab recurrent layer"):
        trace_model(nn.Sequential(nn.Embedding(3, 2)), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"ids must be \(time,\) or \(1, time\)"):
        trace_model(PlantedCharModel(), torch.zeros(2, 3, dtype=torch.long))
