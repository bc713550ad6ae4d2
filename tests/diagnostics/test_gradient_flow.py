"""``gradient_flow`` against hand-computed cases, the NumPy reference's BPTT and finite
differences; lags with lengths and padding; what it leaves behind; bad input.

Oracles: a linear recurrence with W_hh = a·I, whose gradient at lag k is a^k times the readout
(and a tanh/relu RNN kept in its linear regime, and an LSTM with constant gates, whose cell
state passes the gradient on through f^k); the NumPy reference's hand-written BPTT (the
gradient at the state after step t is its dL/dh0 when it is run from that state on); central
finite differences through a loop written here. Sizes all differ (batch 3, time 7, input 5,
hidden 6) so a swapped axis fails.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import rnnlab
from rnnlab.core import reference
from rnnlab.core.cells import RecurrentCell
from rnnlab.diagnostics import gradient_flow
from rnnlab.diagnostics.gradient_flow import decay_rate, lag_below
from rnnlab.models import ClassifierConfig, SequenceClassifier
from rnnlab.models.language_model import LanguageModel, LanguageModelConfig

BATCH, TIME, INPUT, HIDDEN = 3, 7, 5, 6
LENGTHS = [7, 3, 5]
CELLS = ("rnn_tanh", "rnn_relu", "gru", "lstm", "peephole", "cifg", "layernorm")


class LinearCell(RecurrentCell):
    """``h' = W_ih x + a·h``: the gradient of u·h_T at h_{T−1−k} is a^k·u, exactly."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, a: float = 0.8):
        super().__init__()
        self.input_size, self.hidden_size, self.a = input_size, hidden_size, a
        self.weight_ih = nn.Parameter(torch.randn(hidden_size, input_size) / input_size)

    def forward(self, x_t, state):
        (h,) = state
        h_next = x_t @ self.weight_ih.T + self.a * h
        return h_next, (h_next,)


def unit_vector(size: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    vector = torch.randn(size, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return vector / vector.norm()


def last_readout(u: torch.Tensor):
    return lambda output: output.last @ u


# -- exact cases ---------------------------------------------------------------------------------
def test_linear_recurrence_with_w_equal_a_identity_decays_as_a_to_the_k():
    a, time = 0.8, 40
    layer = rnnlab.Recurrent(INPUT, HIDDEN, batch_first=True, cell=LinearCell)
    x = torch.randn(BATCH, time, INPUT)
    flow = gradient_flow(layer, x)
    hidden = flow.curve("hidden")
    expected = a ** np.arange(time)  # ‖a^k u‖ with ‖u‖ = 1, the same for every sequence
    np.testing.assert_allclose(hidden.norms, np.tile(expected, (BATCH, 1)), rtol=1e-5)
    assert hidden.decay_rate == pytest.approx(math.log(a), rel=1e-5)
    # a^k < 1e-3 first at k = 31 (0.8^30 = 1.24e-3, 0.8^31 = 9.9e-4)
    assert hidden.lag_below_threshold == 31
    # ∂L/∂x_{T−1−k} = a^k W_ih^T u
    weight = layer.cells[0].weight_ih.detach()
    u = unit_vector(HIDDEN, seed=0).float()  # the default readout: seed 0, unit norm
    input_norm = (weight.T @ u).norm().item()
    np.testing.assert_allclose(flow.curve("input").median, input_norm * expected, rtol=1e-5)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_plain_rnn_in_its_linear_regime_decays_as_a_to_the_k(nonlinearity):
    # W_ih = 0 and W_hh = a·I: tanh stays at h = 0 (slope 1); relu gets a positive bias b and
    # stays at h > 0 (slope 1). Either way ∂h_t/∂h_{t−1} = a·I.
    a, time = 0.5, 12
    layer = rnnlab.RNN(INPUT, HIDDEN, nonlinearity=nonlinearity, batch_first=True)
    with torch.no_grad():
        layer.weight_ih_l0.zero_()
        layer.weight_hh_l0.copy_(a * torch.eye(HIDDEN))
        layer.bias_ih_l0.fill_(0.0 if nonlinearity == "tanh" else 1.0)
        layer.bias_hh_l0.zero_()
    flow = gradient_flow(layer, torch.randn(BATCH, time, INPUT))
    hidden = flow.curve("hidden")
    np.testing.assert_allclose(hidden.median, a ** np.arange(time), rtol=1e-5)
    assert hidden.decay_rate == pytest.approx(math.log(a), rel=1e-5)
    assert hidden.lag_below_threshold == 10  # 0.5^9 = 1.95e-3, 0.5^10 = 9.8e-4


def test_lstm_cell_state_passes_the_gradient_on_through_the_forget_gate():
    # All weights 0: every gate is σ(bias), constant, so c_t = f c_{t−1} + i g and
    # ∂L/∂c_{T−1−k} = f^k ∂L/∂c_{T−1}; h_t reaches nothing but the output at t.
    forget_bias, time = 2.0, 70
    layer = rnnlab.LSTM(INPUT, HIDDEN, batch_first=True)
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.zero_()
        layer.bias_ih_l0[HIDDEN:2 * HIDDEN] = forget_bias
    flow = gradient_flow(layer, torch.randn(BATCH, time, INPUT))
    f = 1 / (1 + math.exp(-forget_bias))
    cell = flow.curve("cell")
    assert cell.median[0] == 0.0  # the last c_t reaches no output
    np.testing.assert_allclose(cell.median[1:] / cell.median[1], f ** np.arange(time - 1),
                               rtol=1e-5)
    assert cell.decay_rate == pytest.approx(math.log(f), rel=1e-4)
    assert cell.lag_below_threshold == 1 + math.ceil(math.log(1e-3) / math.log(f))
    hidden = flow.curve("hidden")
    assert hidden.median[0] == pytest.approx(1.0) and np.all(hidden.median[1:] == 0.0)


def test_decay_rate_and_threshold_lag_of_a_known_curve():
    curve = 3.0 * 0.9 ** np.arange(100)
    assert decay_rate(curve) == pytest.approx(math.log(0.9))
    assert lag_below(curve) == 66  # 0.9^65 = 1.05e-3, 0.9^66 = 9.5e-4
    assert lag_below(np.ones(5)) is None and math.isnan(decay_rate(np.zeros(5)))
    # the reference is the first value > 0 (2.0): 1e-3 < 2e-3 at lag 2
    assert lag_below(np.array([0.0, 2.0, 1e-3, 1e-4])) == 2


# -- the NumPy reference's BPTT -------------------------------------------------------------------
def reference_norms(kind, layer, x, lengths, u):
    """Per row and lag, ‖dL/dh‖ (and ‖dL/dc‖) at the state after step L−1−k, from the
    reference run on the rest of the row with that state as its initial state."""
    params = {name: value.detach().numpy() for name, value in layer.state_dict().items()}
    x = x.numpy()
    hidden = np.full((len(lengths), x.shape[1]), np.nan)
    cell = hidden.copy()
    d_h_n = np.broadcast_to(u.numpy(), (1, 1, len(u))).copy()
    for row, length in enumerate(lengths):
        hidden[row, 0], cell[row, 0] = 1.0, 0.0  # dL/dh_{L−1} = u; the last c reaches nothing
        for lag in range(1, length):
            step = length - 1 - lag
            _, h, c, _ = reference.forward(kind, x[row:row + 1, :step + 1], params,
                                           num_layers=1, bidirectional=False)
            rest = x[row:row + 1, step + 1:length]
            start = h if c is None else (h, c)
            outputs, *_, cache = reference.forward(kind, rest, params, num_layers=1,
                                                   bidirectional=False, initial_state=start)
            grads = reference.backward(cache, np.zeros_like(outputs), d_h_n)
            hidden[row, lag] = np.linalg.norm(grads["h0"])
            if c is not None:
                cell[row, lag] = np.linalg.norm(grads["c0"])
    _, _, _, cache = reference.forward(kind, x, params, num_layers=1, bidirectional=False,
                                       lengths=np.array(lengths))
    d_h_all = np.zeros((1, len(lengths), len(u)))
    d_h_all[0] = u.numpy()
    inputs = np.linalg.norm(reference.backward(cache, np.zeros((len(lengths), x.shape[1],
                                                                len(u))), d_h_all)["x"], axis=-1)
    by_lag = np.full_like(hidden, np.nan)
    for row, length in enumerate(lengths):
        by_lag[row, :length] = inputs[row, length - 1::-1]
    return hidden, cell, by_lag


@pytest.mark.parametrize("kind", ["rnn_tanh", "gru", "lstm"])
def test_matches_the_numpy_references_hand_written_bptt(kind):
    torch.manual_seed(1)
    layer = rnnlab.Recurrent(INPUT, HIDDEN, batch_first=True, cell=kind, dtype=torch.float64)
    x = torch.randn(BATCH, TIME, INPUT, dtype=torch.float64)
    u = unit_vector(HIDDEN)
    flow = gradient_flow(layer, {"input": x, "lengths": LENGTHS}, loss=last_readout(u))
    hidden, cell, inputs = reference_norms(kind, layer, x, LENGTHS, u)
    np.testing.assert_allclose(flow.curve("hidden").norms, hidden, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(flow.curve("input").norms, inputs, rtol=1e-10, atol=1e-14)
    if kind == "lstm":
        np.testing.assert_allclose(flow.curve("cell").norms, cell, rtol=1e-10, atol=1e-14)
    assert list(flow.curve("hidden").count) == [3, 3, 3, 2, 2, 1, 1]


# -- finite differences ---------------------------------------------------------------------------
def finite_difference_norms(cell, x, u, direction, eps=1e-6):
    """‖∂(u·h_last)/∂state_part‖ per (row, lag, part), by central differences through a loop
    written here (one row at a time, full length; ``direction`` "backward" reads x reversed)."""
    x = x.flip(1) if direction == "backward" else x
    batch, time, _ = x.shape
    sizes = tuple(int(size) for size in cell.state_sizes)
    norms = np.zeros((len(sizes), batch, time))

    def loss_from(step, state, row):
        h = state[0]
        for t in range(step + 1, time):
            h, state = cell(x[row:row + 1, t], state)
        return float(h[0] @ u)

    with torch.no_grad():
        for row in range(batch):
            state = tuple(torch.zeros(1, size, dtype=x.dtype) for size in sizes)
            for t in range(time):
                _, state = cell(x[row:row + 1, t], state)
                lag = time - 1 - t
                for part, size in enumerate(sizes):
                    gradient = np.zeros(size)
                    for unit in range(size):
                        bumped = []
                        for sign in (1, -1):
                            moved = list(state)
                            moved[part] = moved[part].clone()
                            moved[part][0, unit] += sign * eps
                            bumped.append(loss_from(t, tuple(moved), row))
                        gradient[unit] = (bumped[0] - bumped[1]) / (2 * eps)
                    norms[part, row, lag] = np.linalg.norm(gradient)
    return norms


class TwoPartCell(RecurrentCell):
    """A user cell with a two-part state that is not an LSTM: ``m`` is a leaky average of h."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.randn(hidden_size, input_size) / 3)
        self.weight_hh = nn.Parameter(torch.randn(hidden_size, hidden_size) / 3)

    @property
    def state_sizes(self):
        return (self.hidden_size, self.hidden_size)

    def forward(self, x_t, state):
        h, m = state
        h_next = torch.tanh(x_t @ self.weight_ih.T + h @ self.weight_hh.T + m)
        return h_next, (h_next, 0.7 * m + 0.3 * h_next)


@pytest.mark.parametrize("cell", [*CELLS, TwoPartCell], ids=lambda c: getattr(c, "__name__", c))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_matches_central_finite_differences_for_every_cell(cell, bidirectional):
    torch.manual_seed(2)
    batch, time, input_size, hidden = 2, 5, 3, 4
    layer = rnnlab.Recurrent(input_size, hidden, batch_first=True, cell=cell,
                             bidirectional=bidirectional).double()
    x = torch.randn(batch, time, input_size, dtype=torch.float64)
    directions = ("forward", "backward") if bidirectional else ("forward",)
    u = unit_vector(hidden * len(directions))
    flow = gradient_flow(layer, x, loss=last_readout(u))
    for index, direction in enumerate(directions):
        own = u[index * hidden:(index + 1) * hidden]
        expected = finite_difference_norms(layer.cells[index], x, own, direction)
        parts = ("hidden", "cell") if expected.shape[0] == 2 else ("hidden",)
        for part, quantity in enumerate(parts):
            actual = flow.curve(quantity, 0, direction).norms
            np.testing.assert_allclose(actual, expected[part], rtol=1e-6, atol=1e-9,
                                       err_msg=f"{direction} {quantity}")


# -- models, lengths and padding ------------------------------------------------------------------
def test_pre_and_post_padding_give_the_same_curves_with_lengths():
    torch.manual_seed(3)
    layer = rnnlab.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True)
    post = torch.randn(BATCH, TIME, INPUT)
    pre = torch.zeros_like(post)
    for row, length in enumerate(LENGTHS):
        post[row, length:] = 0.0
        pre[row, TIME - length:] = post[row, :length]
    flow_post = gradient_flow(layer, {"input": post, "lengths": LENGTHS})
    flow_pre = gradient_flow(layer, {"input": pre, "lengths": LENGTHS, "padding": "pre"})
    assert [c.label for c in flow_post.curves] == [c.label for c in flow_pre.curves]
    assert len(flow_post.curves) == 1 + 2 * 2 * 2  # input, 2 layers × 2 directions × (h, c)
    for a, b in zip(flow_post.curves, flow_pre.curves):
        np.testing.assert_allclose(a.norms, b.norms, rtol=1e-5, atol=1e-8, err_msg=a.label)
        assert list(a.count) == [3, 3, 3, 2, 2, 1, 1]


def test_a_mask_gives_the_same_curves_as_lengths():
    layer = rnnlab.GRU(INPUT, HIDDEN, batch_first=True)
    x = torch.randn(BATCH, TIME, INPUT)
    mask = torch.arange(TIME)[None, :] < torch.tensor(LENGTHS)[:, None]
    by_mask = gradient_flow(layer, {"input": x, "mask": mask})
    by_lengths = gradient_flow(layer, {"input": x, "lengths": LENGTHS})
    for a, b in zip(by_mask.curves, by_lengths.curves):
        np.testing.assert_allclose(a.norms, b.norms, rtol=1e-6)


def test_a_classifier_and_a_language_model_are_measured_through_their_own_loss():
    # MS_RST_biGRU is one bidirectional layer (seed 002's "multi stack" of two directions)
    config = ClassifierConfig.from_arrangement("MS_RST_biGRU", vocab_size=30, hidden_size=6,
                                               embedding_size=5, masked=True)
    classifier = SequenceClassifier(config, seed=0).eval()
    ids = torch.randint(1, 30, (BATCH, TIME))
    labels = torch.tensor([0.0, 1.0, 1.0])
    flow = gradient_flow(classifier, (ids, torch.tensor(LENGTHS)), loss=lambda logits:
                         nn.functional.binary_cross_entropy_with_logits(
                             logits.squeeze(-1), labels, reduction="none"))
    assert {c.label for c in flow.curves} == {
        "recurrent input", "recurrent 0 forward hidden", "recurrent 0 backward hidden"}
    assert flow.loss > 0 and flow.batch == BATCH and flow.time == TIME
    lm = LanguageModel(LanguageModelConfig(vocab_size=30, hidden_size=6, num_layers=2)).eval()
    targets = torch.randint(0, 30, (BATCH,))
    flow = gradient_flow(lm, ids, loss=lambda logits: nn.functional.cross_entropy(
        logits[:, -1], targets, reduction="none"))
    top = flow.curve("hidden", layer=1)
    assert top.layer_name == "rnn" and np.all(top.median[:3] > 0)


def test_a_cell_is_measured_in_a_one_cell_layer_and_left_as_it_was():
    cell = rnnlab.LSTMCell(INPUT, HIDDEN)
    names = [name for name, _ in cell.named_parameters()]
    flow = gradient_flow(cell, torch.randn(BATCH, TIME, INPUT))
    assert flow.curve("cell").norms.shape == (BATCH, TIME)
    assert [name for name, _ in cell.named_parameters()] == names


def test_the_model_is_left_unchanged_and_its_gradients_untouched():
    layer = rnnlab.LSTM(INPUT, HIDDEN, batch_first=True)
    x = torch.randn(BATCH, TIME, INPUT)
    before = layer(x).output.detach()
    gradient_flow(layer, x)
    assert layer.use_fused_kernel and "step" not in layer.cells[0].__dict__
    assert all(parameter.grad is None for parameter in layer.parameters())
    torch.testing.assert_close(layer(x).output, before)
    assert not layer._forward_pre_hooks


# -- bad input ------------------------------------------------------------------------------------
def test_fewer_than_two_steps_is_an_error_naming_time():
    with pytest.raises(ValueError, match=r"time >= 2 .*got time=1"):
        gradient_flow(rnnlab.LSTM(INPUT, HIDDEN, batch_first=True), torch.randn(2, 1, INPUT))


def test_a_model_without_rnnlab_layers_is_an_error_with_the_fix():
    with pytest.raises(TypeError, match="build the model from rnnlab's layers"):
        gradient_flow(nn.LSTM(INPUT, HIDDEN, batch_first=True), torch.randn(2, 4, INPUT))


def test_a_loss_of_the_wrong_shape_or_not_finite_is_an_error():
    layer = rnnlab.GRU(INPUT, HIDDEN, batch_first=True)
    x = torch.randn(BATCH, TIME, INPUT)
    with pytest.raises(ValueError, match=r"one value per sequence, shape \(3,\)"):
        gradient_flow(layer, x, loss=lambda out: out.output.sum(-1))
    with pytest.raises(FloatingPointError, match="non-finite"):
        gradient_flow(layer, x, loss=lambda out: out.last.sum(-1) * math.inf)
    with pytest.raises(ValueError, match="packed|padded batched input"):
        gradient_flow(layer, torch.randn(TIME, INPUT))
