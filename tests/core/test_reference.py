"""The NumPy reference (rnnlab.core.reference) against torch.nn, autograd and finite differences.

Oracles: torch.nn.LSTM/GRU/RNN in float64 with packed sequences for lengths (forward and
autograd gradients), central finite differences on a tiny case, and hypothesis properties for
padding invariance. Sizes all differ (batch 3, time 4, input 5, hidden 6) so a swapped axis
fails. Lengths [2, 4, 0] hold a partial, a full-length and an empty row.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.core import reference
from rnnlab.core.reference.recurrence import processing_order

BATCH, TIME, INPUT, HIDDEN = 3, 4, 5, 6
LENGTHS = [2, 4, 0]
LENGTH_CASES = {"none": (None, "post"), "post": (LENGTHS, "post"), "pre": (LENGTHS, "pre")}
TORCH_CLASSES = {
    "lstm": (torch.nn.LSTM, {}),
    "gru": (torch.nn.GRU, {}),
    "rnn_tanh": (torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (torch.nn.RNN, {"nonlinearity": "relu"}),
}


# ----------------------------------------------------------------------------- helpers


def make_torch_layer(
    kind,
    num_layers,
    bidirectional,
    seed,
    *,
    input_size=INPUT,
    hidden=HIDDEN,
    proj_size=0,
    bias=True,
):
    """A float64 torch layer whose weights come from ``seed`` (no global RNG)."""
    cls, extra = TORCH_CLASSES[kind]
    if proj_size:
        extra = {**extra, "proj_size": proj_size}
    layer = cls(
        input_size,
        hidden,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=True,
        bias=bias,
        dtype=torch.float64,
        **extra,
    )
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.copy_(torch.from_numpy(rng.uniform(-0.6, 0.6, tuple(parameter.shape))))
    return layer


def numpy_params(layer):
    """The documented way to hand a torch layer's weights to the reference."""
    return {name: value.detach().numpy().copy() for name, value in layer.state_dict().items()}


def random_inputs(kind, layer, seed, batch=BATCH, time=TIME):
    """x, h0, c0 (None unless LSTM) as float64 arrays shaped like torch's."""
    rng = np.random.default_rng(seed)
    states = layer.num_layers * (2 if layer.bidirectional else 1)
    state_size = layer.proj_size or layer.hidden_size
    x = rng.normal(size=(batch, time, layer.input_size))
    h0 = rng.normal(size=(states, batch, state_size))
    c0 = rng.normal(size=(states, batch, layer.hidden_size)) if kind == "lstm" else None
    return x, h0, c0


def torch_oracle(layer, x, h0, c0, lengths, padding):
    """torch's outputs (batch, time, D*state), h_n, c_n with our padding semantics.

    Rows of length 0 cannot be packed, so torch runs on the non-empty rows only; empty rows
    get zero outputs and h_n = h0 (c_n = c0) through index_copy, which keeps autograd exact.
    "pre" rows are rolled so real tokens start at 0, run post-padded, and rolled back.
    """
    hx = (h0, c0) if c0 is not None else h0
    if lengths is None:
        outputs, state = layer(x, hx)
        return (outputs, *state) if c0 is not None else (outputs, state, None)
    batch, time = x.shape[:2]
    lengths = torch.as_tensor(lengths)
    rows = torch.nonzero(lengths > 0).squeeze(1)
    kept = lengths[rows].tolist()
    shifts = [time - length if padding == "pre" else 0 for length in kept]
    inputs = torch.stack([torch.roll(x[r], -s, dims=0) for r, s in zip(rows, shifts, strict=True)])
    sub_hx = (h0[:, rows], c0[:, rows]) if c0 is not None else h0[:, rows]
    packed = pack_padded_sequence(
        inputs, torch.tensor(kept), batch_first=True, enforce_sorted=False
    )
    packed_outputs, state = layer(packed, sub_hx)
    padded, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=time)
    padded = torch.stack([torch.roll(o, s, dims=0) for o, s in zip(padded, shifts, strict=True)])
    outputs = x.new_zeros(batch, time, padded.shape[2]).index_copy(0, rows, padded)
    if c0 is None:
        return outputs, h0.index_copy(1, rows, state), None
    return outputs, h0.index_copy(1, rows, state[0]), c0.index_copy(1, rows, state[1])


def run_reference(kind, layer, x, h0, c0, lengths, padding):
    initial_state = (h0, c0) if kind == "lstm" else h0
    return reference.forward(
        kind,
        x,
        numpy_params(layer),
        num_layers=layer.num_layers,
        bidirectional=layer.bidirectional,
        lengths=lengths,
        padding=padding,
        initial_state=initial_state,
    )


def assert_close(actual, expected, atol, what):
    assert np.shape(actual) == np.shape(expected), f"{what}: shapes differ"
    difference = np.max(np.abs(np.asarray(actual) - np.asarray(expected)), initial=0.0)
    assert difference <= atol, f"{what}: max abs difference {difference:.3g} > {atol}"


def compare_with_torch(kind, layer, lengths, padding, seed):
    """Forward values and all gradients of the reference vs torch autograd."""
    x, h0, c0 = random_inputs(kind, layer, seed)
    outputs, h_n, c_n, cache = run_reference(kind, layer, x, h0, c0, lengths, padding)
    tx, th0 = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    tc0 = None if c0 is None else torch.tensor(c0, requires_grad=True)
    t_outputs, t_h_n, t_c_n = torch_oracle(layer, tx, th0, tc0, lengths, padding)
    rng = np.random.default_rng(seed + 1)
    d_outputs, d_h_n = rng.normal(size=outputs.shape), rng.normal(size=h_n.shape)
    d_c_n = None if c_n is None else rng.normal(size=c_n.shape)
    loss = (t_outputs * torch.from_numpy(d_outputs)).sum() + (t_h_n * torch.from_numpy(d_h_n)).sum()
    if d_c_n is not None:
        loss = loss + (t_c_n * torch.from_numpy(d_c_n)).sum()
    loss.backward()
    grads = reference.backward(cache, d_outputs, d_h_n, d_c_n)
    forward_pairs = [(outputs, t_outputs), (h_n, t_h_n)] + (
        [(c_n, t_c_n)] if c_n is not None else []
    )
    torch_grads = {name: p.grad for name, p in layer.named_parameters()}
    torch_grads.update(
        {"x": tx.grad, "h0": th0.grad, **({"c0": tc0.grad} if tc0 is not None else {})}
    )
    return forward_pairs, grads, torch_grads


GRID = pytest.mark.parametrize(
    ("kind", "num_layers", "bidirectional", "length_case"),
    [
        (k, n, b, c)
        for k in TORCH_CLASSES
        for n in (1, 2, 3)
        for b in (False, True)
        for c in LENGTH_CASES
    ],
)


# ----------------------------------------------------------------------------- torch parity


@GRID
def test_forward_matches_torch_nn_in_float64(kind, num_layers, bidirectional, length_case):
    lengths, padding = LENGTH_CASES[length_case]
    layer = make_torch_layer(kind, num_layers, bidirectional, seed=num_layers)
    forward_pairs, _, _ = compare_with_torch(kind, layer, lengths, padding, seed=7)
    for name, (ours, theirs) in zip(("outputs", "h_n", "c_n"), forward_pairs, strict=False):
        assert_close(ours, theirs.detach().numpy(), 1e-10, name)


@GRID
def test_gradients_match_torch_autograd_for_params_input_and_initial_state(
    kind, num_layers, bidirectional, length_case
):
    lengths, padding = LENGTH_CASES[length_case]
    layer = make_torch_layer(kind, num_layers, bidirectional, seed=10 + num_layers)
    _, grads, torch_grads = compare_with_torch(kind, layer, lengths, padding, seed=3)
    assert set(grads) == set(torch_grads)
    for name, torch_grad in torch_grads.items():
        assert_close(grads[name], torch_grad.numpy(), 1e-9, f"d{name}")


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("length_case", ["none", "pre"])
def test_projected_lstm_matches_torch_forward_and_gradients(num_layers, bidirectional, length_case):
    lengths, padding = LENGTH_CASES[length_case]
    layer = make_torch_layer("lstm", num_layers, bidirectional, seed=5, proj_size=4)
    forward_pairs, grads, torch_grads = compare_with_torch("lstm", layer, lengths, padding, seed=2)
    for ours, theirs in forward_pairs:
        assert_close(ours, theirs.detach().numpy(), 1e-10, "forward")
    for name, torch_grad in torch_grads.items():
        assert_close(grads[name], torch_grad.numpy(), 1e-9, f"d{name}")


@pytest.mark.parametrize("kind", list(TORCH_CLASSES))
def test_layers_without_bias_match_torch_and_return_no_bias_gradients(kind):
    layer = make_torch_layer(kind, 2, True, seed=4, bias=False)
    forward_pairs, grads, torch_grads = compare_with_torch(kind, layer, LENGTHS, "post", seed=1)
    for ours, theirs in forward_pairs:
        assert_close(ours, theirs.detach().numpy(), 1e-10, "forward")
    assert not any(name.startswith("bias") for name in grads)
    for name, torch_grad in torch_grads.items():
        assert_close(grads[name], torch_grad.numpy(), 1e-9, f"d{name}")


# ----------------------------------------------------------------------------- finite differences


def finite_difference_case(kind):
    """A tiny 2-layer bidirectional pre-padded case: its inputs and a function running it."""
    layer = make_torch_layer(kind, 2, True, seed=8, input_size=2, hidden=3)
    x, h0, c0 = random_inputs(kind, layer, seed=9, batch=2, time=3)
    inputs = {"x": x, "h0": h0, **numpy_params(layer), **({"c0": c0} if c0 is not None else {})}

    def run(values):
        params = {k: v for k, v in values.items() if k not in ("x", "h0", "c0")}
        state = (values["h0"], values["c0"]) if kind == "lstm" else values["h0"]
        return reference.forward(
            kind,
            values["x"],
            params,
            num_layers=2,
            bidirectional=True,
            lengths=[3, 1],
            padding="pre",
            initial_state=state,
        )

    return inputs, run


@pytest.mark.parametrize("kind", list(TORCH_CLASSES))
def test_gradients_match_central_finite_differences(kind):
    inputs, run = finite_difference_case(kind)
    *results, cache = run(inputs)
    rng = np.random.default_rng(0)
    upstream = [rng.normal(size=r.shape) for r in results if r is not None]
    grads = reference.backward(cache, *upstream)

    def loss(values):  # L = Σ G ⊙ outputs + Σ G_h ⊙ h_n (+ Σ G_c ⊙ c_n)
        return sum(float(np.sum(r * g)) for r, g in zip(run(values)[:3], upstream, strict=False))

    step = 1e-6
    for name, value in inputs.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            plus, minus = value.copy(), value.copy()
            plus[index] += step
            minus[index] -= step
            difference = loss({**inputs, name: plus}) - loss({**inputs, name: minus})
            numeric[index] = difference / (2 * step)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


# ----------------------------------------------------------------------------- padding semantics


def test_processing_order_matches_docstring_example():
    lengths = np.array([1, 2, 3])
    expected = {
        ("post", False): [[0, 0, 0], [0, 1, 0], [0, 1, 2]],
        ("post", True): [[0, 0, 0], [1, 0, 0], [2, 1, 0]],
        ("pre", False): [[2, 0, 0], [1, 2, 0], [0, 1, 2]],
        ("pre", True): [[2, 0, 0], [2, 1, 0], [2, 1, 0]],
    }
    for (padding, reverse), positions in expected.items():
        actual, active = processing_order(lengths, 3, padding, reverse)
        np.testing.assert_array_equal(actual, positions)
        np.testing.assert_array_equal(active, [[1, 0, 0], [1, 1, 0], [1, 1, 1]])


@pytest.mark.parametrize("kind", list(TORCH_CLASSES))
@pytest.mark.parametrize("padding", ["post", "pre"])
def test_final_states_are_outputs_at_last_real_token_forward_and_first_backward(kind, padding):
    layer = make_torch_layer(kind, 1, True, seed=6)
    x, h0, c0 = random_inputs(kind, layer, seed=6)
    lengths = np.array([2, 4, 3])
    outputs, h_n, _, _ = run_reference(kind, layer, x, h0, c0, lengths, padding)
    first = np.zeros(BATCH, dtype=int) if padding == "post" else TIME - lengths
    last = first + lengths - 1
    rows = np.arange(BATCH)
    np.testing.assert_array_equal(h_n[0], outputs[rows, last, :HIDDEN])
    np.testing.assert_array_equal(h_n[1], outputs[rows, first, HIDDEN:])


@pytest.mark.parametrize("kind", list(TORCH_CLASSES))
def test_empty_rows_give_zero_outputs_and_keep_initial_state_and_its_gradient(kind):
    layer = make_torch_layer(kind, 2, True, seed=2)
    x, h0, c0 = random_inputs(kind, layer, seed=2)
    outputs, h_n, c_n, cache = run_reference(kind, layer, x, h0, c0, [0, 3, 0], "pre")
    assert np.all(outputs[[0, 2]] == 0.0)
    np.testing.assert_array_equal(h_n[:, [0, 2]], h0[:, [0, 2]])
    d_h_n = np.random.default_rng(1).normal(size=h_n.shape)
    grads = reference.backward(cache, np.ones_like(outputs), d_h_n)
    np.testing.assert_array_equal(grads["h0"][:, [0, 2]], d_h_n[:, [0, 2]])
    assert np.all(grads["x"][[0, 2]] == 0.0)
    if kind == "lstm":
        np.testing.assert_array_equal(c_n[:, [0, 2]], c0[:, [0, 2]])


def test_missing_initial_state_means_zeros():
    layer = make_torch_layer("lstm", 2, True, seed=3)
    x, h0, c0 = random_inputs("lstm", layer, seed=3)
    zeros = run_reference("lstm", layer, x, 0 * h0, 0 * c0, LENGTHS, "post")
    default = reference.forward(
        "lstm", x, numpy_params(layer), num_layers=2, bidirectional=True, lengths=LENGTHS
    )
    for ours, expected in zip(default[:3], zeros[:3], strict=True):
        np.testing.assert_array_equal(ours, expected)


@settings(max_examples=40, deadline=None, database=None)
@given(
    kind=st.sampled_from(list(TORCH_CLASSES)),
    bidirectional=st.booleans(),
    lengths=st.lists(st.integers(0, TIME), min_size=BATCH, max_size=BATCH),
    extra=st.integers(0, 3),
    seed=st.integers(0, 2**16),
)
def test_real_outputs_ignore_padding_content_and_amount_and_pre_equals_shifted_post(
    kind, bidirectional, lengths, extra, seed
):
    layer = make_torch_layer(kind, 2, bidirectional, seed=seed)
    params, rng = numpy_params(layer), np.random.default_rng(seed)
    lengths = np.array(lengths)
    x_post = rng.normal(size=(BATCH, TIME, INPUT))
    noisy = np.where(
        np.arange(TIME)[None, :, None] < lengths[:, None, None],
        x_post,
        rng.normal(size=x_post.shape) * 100,
    )
    longer = np.concatenate([noisy, rng.normal(size=(BATCH, extra, INPUT))], axis=1)
    shift = TIME + extra - lengths
    x_pre = np.stack([np.roll(row, s, axis=0) for row, s in zip(longer, shift, strict=True)])

    def run(x, padding):
        return reference.forward(
            kind,
            x,
            params,
            num_layers=2,
            bidirectional=bidirectional,
            lengths=lengths,
            padding=padding,
        )[:3]

    clean, padded, pre = run(x_post, "post"), run(longer, "post"), run(x_pre, "pre")
    pre_as_post = np.stack([np.roll(row, -s, axis=0) for row, s in zip(pre[0], shift, strict=True)])
    for outputs in (padded[0], pre_as_post):
        np.testing.assert_allclose(outputs[:, :TIME], clean[0], rtol=0, atol=1e-12)
        assert np.all(outputs[:, TIME:] == 0.0)
    real = np.arange(TIME)[None, :] < lengths[:, None]
    assert np.all(clean[0][~real] == 0.0)
    for other in (padded, pre):
        for ours, expected in zip(other[1:], clean[1:], strict=True):
            if expected is not None:
                np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- argument errors


def _lstm_call(**overrides):
    layer = make_torch_layer("lstm", 1, False, seed=0)
    arguments = {
        "kind": "lstm",
        "x": np.zeros((BATCH, TIME, INPUT)),
        "params": numpy_params(layer),
        "num_layers": 1,
        "bidirectional": False,
    }
    arguments.update(overrides)
    kind, x, params = arguments.pop("kind"), arguments.pop("x"), arguments.pop("params")
    return reference.forward(kind, x, params, **arguments)


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"kind": "lstmp"}, ValueError, r"kind must be one of .*'lstmp'"),
        ({"padding": "left"}, ValueError, r"padding must be one of .*'left'"),
        ({"num_layers": 0}, ValueError, r"num_layers must be an int >= 1, got 0"),
        ({"num_layers": 2}, ValueError, r"missing \['bias_hh_l1'"),
        ({"bidirectional": True}, ValueError, r"missing \['bias_hh_l0_reverse'"),
        ({"x": np.zeros((TIME, INPUT))}, ValueError, r"x must have shape .* got shape \(4, 5\)"),
        ({"x": np.zeros((BATCH, TIME, 7))}, ValueError, r"params\['weight_ih_l0'\] .*\(24, 5\)"),
        ({"lengths": [1, 2]}, ValueError, r"lengths must have shape \(batch,\) = \(3,\)"),
        ({"lengths": [1, 5, 2]}, ValueError, r"lengths must be in \[0, 4\] .* max 5"),
        ({"lengths": [1, -1, 2]}, ValueError, r"lengths must be in \[0, 4\] .* min -1"),
        ({"lengths": [1.5, 1, 2]}, TypeError, r"lengths must hold integers"),
        ({"initial_state": np.zeros((1, BATCH, HIDDEN))}, ValueError, r"must be a pair \(h0, c0\)"),
        (
            {"initial_state": (np.zeros((1, 2, HIDDEN)), np.zeros((1, BATCH, HIDDEN)))},
            ValueError,
            r"initial_state h0 must have shape .*\(1, 3, 6\), got \(1, 2, 6\)",
        ),
    ],
)
def test_bad_arguments_raise_errors_naming_argument_value_and_allowed(overrides, error, message):
    with pytest.raises(error, match=message):
        _lstm_call(**overrides)


def test_unexpected_parameter_key_is_named():
    layer = make_torch_layer("gru", 1, False, seed=0)
    params = {**numpy_params(layer), "weight_hr_l0": np.zeros((2, HIDDEN))}
    with pytest.raises(ValueError, match=r"unexpected \['weight_hr_l0'\]"):
        reference.forward(
            "gru", np.zeros((BATCH, TIME, INPUT)), params, num_layers=1, bidirectional=False
        )


def test_parameters_of_another_kind_are_rejected_with_a_hint():
    params = numpy_params(make_torch_layer("lstm", 1, False, seed=0))
    with pytest.raises(ValueError, match=r"kind='gru', got \(24, 6\); are these the parameters"):
        reference.forward(
            "gru", np.zeros((BATCH, TIME, INPUT)), params, num_layers=1, bidirectional=False
        )


def test_backward_rejects_cell_gradient_for_cells_without_cell_state_and_bad_shapes():
    layer = make_torch_layer("gru", 1, False, seed=0)
    outputs, h_n, _, cache = reference.forward(
        "gru",
        np.zeros((BATCH, TIME, INPUT)),
        numpy_params(layer),
        num_layers=1,
        bidirectional=False,
    )
    with pytest.raises(ValueError, match=r"d_c_n must be None for kind='gru'"):
        reference.backward(cache, outputs, h_n, h_n)
    with pytest.raises(ValueError, match=r"d_outputs must have shape .* got \(3, 4\)"):
        reference.backward(cache, outputs[..., 0], h_n)
