"""rnnlab layers as a drop-in for torch.nn: positional hx, PackedSequence, torch.compile and
torch.export, torch's parameter names, torch-like errors, masks, NaN in the padding."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnlab
from tests.core.conftest import BATCH, HIDDEN, INPUT, TIME, make_pair

KINDS = ("lstm", "gru", "rnn_tanh")


def _initial(kind: str, layers: int, directions: int, dtype=torch.float32):
    h0 = torch.randn(layers * directions, BATCH, HIDDEN, dtype=dtype)
    return (h0, torch.randn_like(h0)) if kind == "lstm" else h0


@pytest.mark.parametrize("kind", KINDS)
def test_positional_hx_is_the_initial_state_as_in_torch(kind):
    ours, reference = make_pair(kind, torch.float64, num_layers=2, bidirectional=True)
    x = torch.randn(TIME, BATCH, INPUT, dtype=torch.float64)
    hx = _initial(kind, 2, 2, torch.float64)
    want_out, want_state = reference(x, hx)
    got_out, got_state = ours(x, hx)
    torch.testing.assert_close(got_out, want_out)
    torch.testing.assert_close(got_state, want_state)
    torch.testing.assert_close(ours(x, hx=hx).output, want_out)
    torch.testing.assert_close(ours(x, initial_state=hx).output, want_out)


def test_lengths_passed_where_torch_expects_hx_get_an_error_that_says_so():
    lstm = rnnlab.LSTM(INPUT, HIDDEN)
    x = torch.randn(TIME, BATCH, INPUT)
    with pytest.raises(TypeError, match=r"hx must be h_0 or \(h_0, c_0\).*lengths="):
        lstm(x, torch.tensor([4, 2, 1]))
    with pytest.raises(TypeError, match="got list"):
        lstm(x, [4, 2, 1])
    with pytest.raises(ValueError, match="pass the initial state once"):
        lstm(x, _initial("lstm", 1, 1), initial_state=_initial("lstm", 1, 1))


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_packed_sequence_in_gives_the_packed_sequence_torch_gives(kind, enforce_sorted):
    ours, reference = make_pair(kind, torch.float64, num_layers=2, bidirectional=True,
                                batch_first=True)
    lengths = torch.tensor([4, 3, 1]) if enforce_sorted else torch.tensor([1, 4, 3])
    x = torch.randn(BATCH, TIME, INPUT, dtype=torch.float64)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    hx = _initial(kind, 2, 2, torch.float64)
    want_out, want_state = reference(packed, hx)
    got_out, got_state = ours(packed, hx)
    assert isinstance(got_out, torch.nn.utils.rnn.PackedSequence)
    torch.testing.assert_close(got_out.data, want_out.data)
    assert torch.equal(got_out.batch_sizes, want_out.batch_sizes)
    for got, want in ((got_out.sorted_indices, want_out.sorted_indices),
                      (got_out.unsorted_indices, want_out.unsorted_indices)):
        assert (got is None and want is None) or torch.equal(got, want)
    torch.testing.assert_close(got_state, want_state)
    result = ours(packed, hx)
    assert result.output.shape == (BATCH, TIME, 2 * HIDDEN)  # the padded view stays
    assert torch.equal(result.lengths, lengths)


def test_packed_sequence_refuses_conflicting_lengths():
    lstm = rnnlab.LSTM(INPUT, HIDDEN, batch_first=True)
    packed = pack_padded_sequence(torch.randn(BATCH, TIME, INPUT), [4, 3, 1], batch_first=True)
    with pytest.raises(ValueError, match="carries its own lengths"):
        lstm(packed, lengths=[4, 3, 1])


def test_named_parameters_are_torchs_names_in_torchs_order():
    for ours, reference in (make_pair("lstm", torch.float32, num_layers=2, bidirectional=True,
                                      proj_size=3),
                            make_pair("gru", torch.float32, num_layers=3),
                            make_pair("rnn_tanh", torch.float32, bias=False)):
        assert [n for n, _ in ours.named_parameters()] == \
            [n for n, _ in reference.named_parameters()]
        assert list(ours.state_dict()) == list(reference.state_dict())


def test_the_usual_init_loop_over_named_parameters_reaches_the_weights_in_use():
    ours, reference = make_pair("lstm", torch.float64, num_layers=2, bidirectional=True)
    for module in (ours, reference):
        torch.manual_seed(3)
        for name, parameter in module.named_parameters():
            if name.startswith("weight_hh"):
                torch.nn.init.orthogonal_(parameter)
            elif name.startswith("bias"):
                torch.nn.init.zeros_(parameter)
    x = torch.randn(TIME, BATCH, INPUT, dtype=torch.float64)
    torch.testing.assert_close(ours(x).output, reference(x)[0])
    assert ours.cells[3].weight_hh is ours.weight_hh_l1_reverse


def test_functional_call_and_conversions_reach_the_cells():
    ours, reference = make_pair("lstm", torch.float64, num_layers=2)
    x = torch.randn(TIME, BATCH, INPUT, dtype=torch.float64)
    params = {name: torch.randn_like(p) for name, p in ours.named_parameters()}
    got = torch.func.functional_call(ours, params, (x,)).output
    want = torch.func.functional_call(reference, params, (x,))[0]
    torch.testing.assert_close(got, want)
    as_float = copy.deepcopy(ours).float()
    assert as_float.cells[0].weight_ih.dtype == torch.float32
    assert as_float(x.float()).output.dtype == torch.float32
    assert ours.cells[0].weight_ih.dtype == torch.float64  # the copy is independent


def test_dtype_mismatch_says_what_to_convert():
    lstm = rnnlab.LSTM(INPUT, HIDDEN)
    with pytest.raises(ValueError, match=r"input dtype torch.float64 does not match weight "
                                         r"dtype torch.float32; convert"):
        lstm(torch.randn(TIME, BATCH, INPUT, dtype=torch.float64))


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_mask_is_an_alternative_to_lengths(padding):
    lstm = rnnlab.LSTM(INPUT, HIDDEN, batch_first=True, bidirectional=True)
    x = torch.randn(BATCH, TIME, INPUT)
    lengths = torch.tensor([4, 2, 0])
    mask = rnnlab.lengths_to_mask(lengths, TIME, padding)
    want = lstm(x, lengths=lengths, padding=padding)
    got = lstm(x, mask=mask)  # the side is read off the mask
    assert got.padding == padding
    torch.testing.assert_close(got.output, want.output, rtol=0, atol=0)
    torch.testing.assert_close(got.h_n, want.h_n, rtol=0, atol=0)


def test_mask_that_is_not_one_run_of_real_steps_is_refused():
    lstm = rnnlab.LSTM(INPUT, HIDDEN, batch_first=True)
    mask = torch.tensor([[True, False, True, True], [True] * 4, [True, True, False, False]])
    with pytest.raises(ValueError, match=r"one contiguous run of real steps.*rows \[0\]"):
        lstm(torch.randn(BATCH, TIME, INPUT), mask=mask)
    post_mask = torch.tensor([[True] * 4, [True] * 4, [True, True, False, False]])
    with pytest.raises(ValueError, match="padding='pre'.*rows \\[2\\]"):
        lstm(torch.randn(BATCH, TIME, INPUT), mask=post_mask, padding="pre")
    with pytest.raises(ValueError, match="not both"):
        lstm(torch.randn(BATCH, TIME, INPUT), lengths=[4, 4, 2], mask=mask)


# Every runner: the fused kernel through the padding (LSTM training), the packed kernel (GRU
# inference), the time loop (a variant cell, and a standard cell with use_fused_kernel=False).
RUNNER_CASES = {
    "kernel": (dict(), True),
    "packed": (dict(), False),
    "loop": (dict(use_fused_kernel=False), True),
    "variant": (dict(cell="peephole"), True),
}


@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("layer_class,case", [
    *((rnnlab.LSTM, case) for case in RUNNER_CASES),
    *((rnnlab.GRU, case) for case in RUNNER_CASES if case != "variant"),  # variants: LSTM only
])
def test_nan_in_padding_never_reaches_outputs_or_gradients(layer_class, case, padding):
    kwargs, grad = RUNNER_CASES[case]
    layer = layer_class(INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True,
                        **kwargs)
    lengths = torch.tensor([4, 2, 1])
    real = rnnlab.lengths_to_mask(lengths, TIME, padding)
    clean = torch.randn(BATCH, TIME, INPUT)
    poisoned = clean.masked_fill(~real.unsqueeze(-1), float("nan"))
    poisoned[0, 0, 0] = clean[0, 0, 0]  # row 0 is full: nothing to poison there
    poisoned[2][~real[2]] = torch.tensor(float("inf"))
    with torch.set_grad_enabled(grad):
        want = layer(clean.masked_fill(~real.unsqueeze(-1), 0.0), lengths=lengths,
                     padding=padding)
        got = layer(poisoned, lengths=lengths, padding=padding)
    assert torch.equal(got.output, want.output)
    assert torch.all(got.output[~real] == 0)
    assert torch.equal(got.h_n, want.h_n)
    if grad:
        (got.output.sum() + sum(part.sum() for part in got.final_states)).backward()
        for name, parameter in layer.named_parameters():
            assert torch.isfinite(parameter.grad).all(), name


def test_flip_time_needs_the_layout():
    lstm = rnnlab.LSTM(INPUT, HIDDEN, go_backwards=True)  # time-major by default
    result = lstm(torch.randn(TIME, BATCH, INPUT))
    with pytest.raises(TypeError, match="flip_time needs the layout"):
        rnnlab.flip_time(result.output)
    flipped = result.output.flip(0)
    assert torch.equal(rnnlab.flip_time(result), flipped)
    assert torch.equal(lstm.flip_time(result.output), flipped)
    assert torch.equal(rnnlab.flip_time(result.output, batch_first=False), flipped)


def test_a_cell_instance_runs_a_one_cell_layer_and_is_refused_for_more():
    cell = rnnlab.PeepholeLSTMCell(INPUT, HIDDEN)
    layer = rnnlab.LSTM(INPUT, HIDDEN, cell=cell, batch_first=True)
    assert layer.cells[0] is cell
    assert [n for n, _ in layer.named_parameters()][:2] == ["weight_ih_l0", "weight_hh_l0"]
    assert layer(torch.randn(BATCH, TIME, INPUT)).output.shape == (BATCH, TIME, HIDDEN)
    with pytest.raises(ValueError, match=r"needs 2 \(num_layers × directions\).*factory"):
        rnnlab.LSTM(INPUT, HIDDEN, cell=rnnlab.PeepholeLSTMCell(INPUT, HIDDEN),
                    bidirectional=True)
    with pytest.raises(ValueError, match="input_size=7 but the layer was built with"):
        rnnlab.LSTM(INPUT, HIDDEN, cell=rnnlab.LSTMCell(7, HIDDEN))


def _compile_case(kind: str, lengths):
    torch._dynamo.reset()
    layer = {"lstm": rnnlab.LSTM, "gru": rnnlab.GRU}[kind](
        INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(BATCH, TIME, INPUT)
    compiled = torch.compile(layer, backend="aot_eager")
    eager = layer(x, lengths=lengths)
    got = compiled(x, lengths=lengths)
    torch.testing.assert_close(got.output, eager.output)
    torch.testing.assert_close(got.final_states, eager.final_states)
    got.output.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())


@pytest.mark.parametrize("lengths", [None, [4, 2, 1]], ids=["full", "lengths"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_torch_compile_runs_with_and_without_lengths(kind, lengths):
    _compile_case(kind, lengths)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_torch_export_traces_lengths_without_data_dependent_branches(kind):
    layer = {"lstm": rnnlab.LSTM, "gru": rnnlab.GRU}[kind](
        INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True).eval()
    x = torch.randn(BATCH, TIME, INPUT)
    program = torch.export.export(layer, (x,), {"lengths": torch.tensor([4, 2, 1])})
    exported = program.module()
    for lengths in ([4, 2, 1], [1, 4, 3], [4, 4, 4]):  # one graph serves any lengths
        want = layer(x, lengths=lengths)
        got = exported(x, lengths=torch.tensor(lengths))
        torch.testing.assert_close(got.output, want.output)
        torch.testing.assert_close(got.final_states, want.final_states)


def test_the_loop_free_final_cell_state_used_while_tracing_equals_the_loop():
    """While tracing, c_n with lengths comes from a closed form (no loop over time, so an
    exported graph keeps time dynamic: tests/export); it must equal the step-by-step scan,
    over 300 steps and lengths 0, 1 and full."""
    from rnnlab.core.directions import Steps, _final_cell_state, _final_cell_state_closed_form

    torch.manual_seed(0)
    batch, time, hidden = 5, 300, 6
    x, h = torch.randn(batch, time, INPUT), 0.5 * torch.randn(batch, time, hidden)
    h0, c0 = torch.randn(batch, hidden), torch.randn(batch, hidden)
    weights = [torch.randn(4 * hidden, INPUT), 0.5 * torch.randn(4 * hidden, hidden),
               torch.randn(4 * hidden), torch.randn(4 * hidden)]
    lengths = torch.tensor([time, 1, 0, 150, time - 1])
    steps = Steps(lengths, rnnlab.lengths_to_mask(lengths, time, "post"))
    scanned = _final_cell_state(weights, True, x, h, (h0, c0), steps)
    previous = torch.cat([h0.unsqueeze(1), h[:, :-1]], dim=1)
    gates = (torch.nn.functional.linear(x, weights[0], weights[2])
             + torch.nn.functional.linear(previous, weights[1], weights[3]))
    i, f, g, _ = gates.chunk(4, dim=-1)
    closed = _final_cell_state_closed_form(torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g),
                                           c0, steps)
    torch.testing.assert_close(closed, scanned, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(closed[2], c0[2])  # length 0: the start state


def test_torch_export_with_a_mask_needs_the_padding_side():
    layer = rnnlab.LSTM(INPUT, HIDDEN, batch_first=True).eval()
    x, lengths = torch.randn(BATCH, TIME, INPUT), torch.tensor([4, 2, 1])
    mask = rnnlab.lengths_to_mask(lengths, TIME, "pre")
    with pytest.raises(Exception, match="pass padding= with mask="):
        torch.export.export(layer, (x,), {"mask": mask})
    program = torch.export.export(layer, (x,), {"mask": mask, "padding": "pre"})
    want = layer(x, lengths=lengths, padding="pre")
    torch.testing.assert_close(program.module()(x, mask=mask, padding="pre").output, want.output)
