"""rnnlab's fused C++ kernels (rnnlab.core.kernels) against independent oracles.

Oracles: float64 finite differences (gradcheck) on the kernels themselves; torch.nn.GRU; and
the layers' time loop (``use_fused_kernel=False``), whose cells are plain autograd code.
"""

import copy
import os
import subprocess
import sys
import warnings

import pytest
import torch

import rnnlab
from rnnlab.core import kernels
from rnnlab.core.cells import GRUCell
from rnnlab.core.kernels import ops

pytestmark = pytest.mark.skipif(not kernels.available(), reason=kernels.status())

CELLS = ("gru", "lstm", "peephole", "cifg", "layernorm")
LENGTHS = torch.tensor([7, 3, 0, 1, 5])


def _layer(cell: str, **kwargs) -> rnnlab.Recurrent:
    if cell == "gru":
        return rnnlab.GRU(3, 4, batch_first=True, **kwargs)
    return rnnlab.LSTM(3, 4, batch_first=True, cell=cell, **kwargs)


def _loss(result, cell):
    loss = (result.output * torch.linspace(-1, 1, result.output.shape[-1])).sum()
    loss = loss + result.h_n.square().sum()
    return loss + (result.c_n.sum() if cell != "gru" else 0)


@pytest.mark.parametrize("kind", ["lstm", "peephole", "cifg"])
@pytest.mark.parametrize("with_mask", [False, True])
def test_lstm_family_kernels_pass_gradcheck(kind, with_mask):
    torch.manual_seed(0)
    time, batch, hidden = 6, 5, 3
    gates = 3 if kind == "cifg" else 4
    f64 = {"dtype": torch.float64}
    inputs = [torch.randn(time, batch, gates * hidden, **f64), torch.randn(batch, hidden, **f64),
              torch.randn(batch, hidden, **f64), 0.5 * torch.randn(gates * hidden, hidden, **f64),
              torch.randn(gates * hidden, **f64)]
    peephole = torch.randn(3, hidden, **f64) if kind == "peephole" else None
    mask = (torch.rand(batch, hidden) > 0.3).double() / 0.7 if with_mask else None
    inputs = [t.requires_grad_() for t in inputs]
    if peephole is not None:
        inputs.append(peephole.requires_grad_())

    def run(gi, h0, c0, w, b, p=None):
        return ops.lstm_family(kind, gi, h0, c0, w, b, p, LENGTHS[:batch], mask)

    assert torch.autograd.gradcheck(run, tuple(inputs))


@pytest.mark.parametrize("with_mask", [False, True])
def test_gru_and_layer_norm_kernels_pass_gradcheck(with_mask):
    torch.manual_seed(1)
    time, batch, hidden = 6, 5, 3
    f64 = {"dtype": torch.float64}
    mask = (torch.rand(batch, hidden) > 0.3).double() / 0.7 if with_mask else None
    gru_inputs = (torch.randn(time, batch, 3 * hidden, **f64), torch.randn(batch, hidden, **f64),
                  torch.randn(3 * hidden, hidden, **f64), torch.randn(3 * hidden, **f64))
    assert torch.autograd.gradcheck(
        lambda *a: ops.gru(*a, LENGTHS, mask), tuple(t.requires_grad_() for t in gru_inputs))

    # p, h0, c0, W_hh, the input norm's gain, the shift, the recurrent and cell norms; the
    # three epsilons differ so a kernel that mixed them up would fail
    ln_inputs = (torch.randn(time, batch, 4 * hidden, **f64), torch.randn(batch, hidden, **f64),
                 torch.randn(batch, hidden, **f64), torch.randn(4 * hidden, hidden, **f64),
                 torch.empty(4 * hidden, **f64).uniform_(0.5, 1.5),
                 0.3 * torch.randn(4 * hidden, **f64),
                 torch.empty(4 * hidden, **f64).uniform_(0.5, 1.5),
                 torch.empty(hidden, **f64).uniform_(0.5, 1.5), 0.3 * torch.randn(hidden, **f64))
    assert torch.autograd.gradcheck(
        lambda *a: ops.layer_norm_lstm(*a, (1e-5, 1e-3, 0.1), LENGTHS, mask),
        tuple(t.requires_grad_() for t in ln_inputs))



@pytest.mark.parametrize("kind", ["gru", "lstm", "peephole", "cifg", "layernorm"])
@pytest.mark.parametrize("with_mask", [False, True])
def test_inference_keeps_no_steps_and_computes_the_same_numbers(kind, with_mask):
    """Without a graph the kernels keep one step's scratch and two state slices in turn
    (save=False); outputs and final states must equal the saving pass's bit for bit, and the
    per-step buffers it returns must be one step long (time 7: an odd count, so the final
    state comes from the second slice)."""
    torch.manual_seed(3)
    time, batch, hidden = 7, 5, 4
    gates = {"gru": 3, "cifg": 3}.get(kind, 4)
    gi, h0, c0 = (torch.randn(time, batch, gates * hidden), torch.randn(batch, hidden),
                  torch.randn(batch, hidden))
    w, b = 0.5 * torch.randn(gates * hidden, hidden), torch.randn(gates * hidden)
    mask = (torch.rand(batch, hidden) > 0.3).float() / 0.7 if with_mask else None
    lengths = torch.tensor([7, 3, 0, 1, 6])
    if kind == "gru":
        def run(save):
            return torch.ops.rnnlab.gru_forward(gi, h0, w, b, lengths, mask, save=save)
        finals = 2
    elif kind == "layernorm":
        norms = (torch.empty(4 * hidden).uniform_(0.5, 1.5), b,
                 torch.empty(4 * hidden).uniform_(0.5, 1.5),
                 torch.empty(hidden).uniform_(0.5, 1.5), 0.3 * torch.randn(hidden))

        def run(save):
            return torch.ops.rnnlab.ln_lstm_forward(gi, h0, c0, w, *norms, 1e-5, 1e-5, 1e-5,
                                                    lengths, mask, save=save)
        finals = 3
    else:
        peephole = torch.randn(3, hidden) if kind == "peephole" else None

        def run(save):
            return torch.ops.rnnlab.lstm_forward(ops.LSTM_KINDS[kind], gi, h0, c0, w, b,
                                                 peephole, lengths, mask, save=save)
        finals = 3
    saved, kept = run(True), run(False)
    for got, want in zip(kept[:finals], saved[:finals]):
        assert torch.equal(got, want)
    assert all(buffer.shape[0] in (1, 2) for buffer in kept[finals:])
    # ... and the layers take that path under no_grad, with the same outputs
    layer = _layer(kind, num_layers=2, bidirectional=True)
    x = torch.randn(5, 7, 3)
    with torch.no_grad():
        inferred = layer(x, lengths=lengths, padding="pre")
    trained = layer(x, lengths=lengths, padding="pre")
    assert torch.equal(inferred.output, trained.output.detach())
    assert torch.equal(inferred.h_n, trained.h_n.detach())

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layout", [
    {"num_layers": 1, "bidirectional": False, "lengths": None, "padding": "post"},
    {"num_layers": 2, "bidirectional": True, "lengths": [5, 2, 0, 1], "padding": "post"},
    {"num_layers": 2, "bidirectional": True, "lengths": [5, 2, 0, 1], "padding": "pre"},
    {"num_layers": 1, "bidirectional": True, "lengths": [1, 5, 3, 4], "padding": "pre"},
])
def test_kernel_path_equals_the_time_loop_float32(cell, layout):
    """Outputs, final states and every parameter gradient, float32 within 1e-5."""
    torch.manual_seed(2)
    layout = dict(layout)
    lengths, padding = layout.pop("lengths"), layout.pop("padding")
    fused = _layer(cell, **layout)
    loop = copy.deepcopy(fused)
    loop.use_fused_kernel = False
    x = torch.randn(4, 5, 3)
    if cell != "lstm":  # the standard LSTM keeps torch's oneDNN kernel here
        assert fused._path(lengths is not None, 5, x) == "native"
    got = fused(x, lengths=lengths, padding=padding)
    want = loop(x, lengths=lengths, padding=padding)
    torch.testing.assert_close(got.output, want.output, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got.h_n, want.h_n, rtol=1e-5, atol=1e-5)
    grads = torch.autograd.grad(_loss(got, cell), list(fused.parameters()))
    expected = torch.autograd.grad(_loss(want, cell), list(loop.parameters()))
    if cell == "layernorm":
        # Layer norm divides by a per-row deviation, so float32 rounding is amplified in
        # either path: hold both to the float64 loop. The kernel's tanh is a rational
        # approximation (a few ulp) and its sums are vectorised (reassociated): its error
        # must stay in the float32 loop's class. Each gradient's error is taken relative to
        # that gradient's size, and the worst over all parameters compared: per parameter the
        # two paths' errors scatter (over 20 seeds the kernel's worst was 0.3-7x the loop's,
        # median ~1), so a per-parameter bound would test the seed, not the kernel.
        exact_layer = copy.deepcopy(loop).double()
        exact = exact_layer(x.double(), lengths=lengths, padding=padding)
        exact_grads = torch.autograd.grad(_loss(exact, cell), list(exact_layer.parameters()))

        def worst_relative_error(grads_of_a_path):
            return max(((g.double() - e).abs().max() / e.abs().max().clamp_min(1e-3)).item()
                       for g, e in zip(grads_of_a_path, exact_grads))

        kernel_error, loop_error = worst_relative_error(grads), worst_relative_error(expected)
        assert kernel_error <= max(5 * loop_error, 1e-6), (kernel_error, loop_error)
        assert kernel_error <= 1e-4, kernel_error  # ~800 float32 ulps: nothing catastrophic
        return
    for (name, _), a, b in zip(fused.named_parameters(), grads, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.3])
def test_the_step_products_by_brgemm_and_by_at_mm_agree(cell, recurrent_dropout, monkeypatch):
    """float32 per-step products run oneDNN's brgemm micro-kernel; RNNLAB_BRGEMM=0 (and any
    torch without it) runs at::mm. Both, forward and backward, with lengths and masks."""
    torch.manual_seed(3)
    layer = _layer(cell, num_layers=2, bidirectional=True, recurrent_dropout=recurrent_dropout)
    x = torch.randn(5, 7, 3, requires_grad=True)

    def run(setting: str):
        monkeypatch.setenv("RNNLAB_BRGEMM", setting)
        torch.manual_seed(4)  # the same dropout masks for both
        result = layer(x, lengths=LENGTHS, padding="post")
        grads = torch.autograd.grad(_loss(result, cell), [x, *layer.parameters()])
        return result, grads

    (fast, fast_grads), (plain, plain_grads) = run("1"), run("0")
    torch.testing.assert_close(fast.output, plain.output, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fast.h_n, plain.h_n, rtol=1e-5, atol=1e-6)
    for a, b in zip(fast_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert not torch.equal(fast.output, torch.zeros_like(fast.output))


@pytest.mark.parametrize("cell", CELLS)
def test_recurrent_and_weight_dropout_run_inside_the_kernel_with_the_loops_masks(cell):
    """Same seed, same masks: the kernel and the loop draw them in the same order."""
    torch.manual_seed(3)
    fused = _layer(cell, num_layers=2, bidirectional=True, recurrent_dropout=0.4,
                   weight_dropout=0.3).train()
    loop = copy.deepcopy(fused)
    loop.use_fused_kernel = False
    x = torch.randn(4, 5, 3)
    assert fused._path(True, 5, x) == "native"
    results = []
    for layer in (fused, loop):
        torch.manual_seed(11)
        result = layer(x, lengths=[5, 3, 1, 4])
        results.append((result, torch.autograd.grad(_loss(result, cell),
                                                    list(layer.parameters()))))
    (got, got_grads), (want, want_grads) = results
    torch.testing.assert_close(got.output, want.output, rtol=1e-5, atol=1e-5)
    for a, b in zip(got_grads, want_grads):
        torch.testing.assert_close(a, b, rtol=3e-5, atol=3e-5)


def test_gru_kernel_equals_torch_nn_gru_with_torch_parameters():
    torch.manual_seed(4)
    ours = rnnlab.GRU(6, 8, num_layers=2, bidirectional=True)
    theirs = torch.nn.GRU(6, 8, num_layers=2, bidirectional=True)
    theirs.load_state_dict(ours.state_dict())
    x, h0 = torch.randn(9, 3, 6), torch.randn(4, 3, 8)
    got, want = ours(x, h0), theirs(x, h0)
    assert ours._path(False, 9, x) == "native"
    torch.testing.assert_close(got.output, want[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got.h_n, want[1], rtol=1e-5, atol=1e-6)
    ours_grads = torch.autograd.grad(got.output.sum() + got.h_n.sum(), list(ours.parameters()))
    theirs_grads = torch.autograd.grad(want[0].sum() + want[1].sum(), list(theirs.parameters()))
    for a, b in zip(ours_grads, theirs_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_an_output_nobody_reads_gets_no_gradient_and_the_others_stay_exact():
    torch.manual_seed(5)
    fused = _layer("peephole")
    loop = copy.deepcopy(fused)
    loop.use_fused_kernel = False
    x = torch.randn(4, 5, 3)
    got = torch.autograd.grad(fused(x, lengths=[5, 1, 2, 4]).c_n.sum(), fused.weight_hh_l0)
    want = torch.autograd.grad(loop(x, lengths=[5, 1, 2, 4]).c_n.sum(), loop.weight_hh_l0)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_a_subclass_that_changes_the_step_is_never_run_by_a_kernel():
    class ScaledGRUCell(GRUCell):
        def step(self, precomputed_t, state):
            h, (new,) = super().step(precomputed_t, state)
            return 0.5 * h, (0.5 * new,)

    layer = rnnlab.GRU(3, 4, batch_first=True, cell=ScaledGRUCell)
    x = torch.randn(2, 5, 3)
    assert layer._path(False, 5, x) == "loop"
    reference = copy.deepcopy(layer)
    reference.use_fused_kernel = False
    torch.testing.assert_close(layer(x).output, reference(x).output)


def test_exported_graphs_hold_torch_operators_not_rnnlab_kernels():
    layer = rnnlab.GRU(3, 4, batch_first=True).eval()
    program = torch.export.export(layer, (torch.randn(2, 5, 3),), strict=False)
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert not any("rnnlab" in target for target in targets)
    assert any("gru" in target for target in targets)


def test_forced_fallback_runs_torchs_paths_with_the_same_numbers(tmp_path):
    """RNNLAB_KERNELS=off (a fresh interpreter: the choice is made once per process) runs the
    time loop without a warning, and gives the kernels' numbers."""
    target = tmp_path / "off.pt"
    script = (
        "import torch, rnnlab\n"
        "torch.manual_seed(0)\n"
        "layer = rnnlab.LSTM(3, 4, batch_first=True, cell='cifg')\n"
        "x = torch.randn(2, 5, 3)\n"
        "print(layer._path(True, 5, x))\n"
        f"torch.save(layer(x, lengths=[5, 2]).output, r'{target}')\n")
    env = {**os.environ, "RNNLAB_KERNELS": "off"}
    done = subprocess.run([sys.executable, "-W", "error", "-c", script], env=env,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "loop"
    torch.manual_seed(0)
    layer = rnnlab.LSTM(3, 4, batch_first=True, cell="cifg")
    x = torch.randn(2, 5, 3)
    assert layer._path(True, 5, x) == "native"
    torch.testing.assert_close(torch.load(target, weights_only=True),
                               layer(x, lengths=[5, 2]).output, rtol=1e-5, atol=1e-6)


def test_a_failed_build_warns_once_and_falls_back(monkeypatch):
    monkeypatch.setattr(kernels, "_state", {"loaded": None, "reason": ""})
    monkeypatch.delenv("RNNLAB_KERNELS", raising=False)

    def broken_build():
        raise OSError("g++: command not found")

    monkeypatch.setattr(kernels, "_build", broken_build)
    with pytest.warns(kernels.KernelFallbackWarning, match="g\\+\\+: command not found"):
        assert kernels.available() is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kernels.available() is False  # said once, not at every forward pass
    layer = rnnlab.GRU(3, 4, batch_first=True)
    assert layer._path(False, 5, torch.randn(2, 5, 3)) == "whole"
    assert "g++" in kernels.status()


def test_a_build_killed_midway_does_not_block_the_next_one(monkeypatch, tmp_path):
    """torch's build lock file, left by a SIGKILLed build, is removed before building again
    (torch would wait on it for ever); a library already built is loaded without a build."""
    from torch.utils import cpp_extension

    monkeypatch.setattr(kernels, "cache_directory", lambda: tmp_path)
    (tmp_path / "lock").write_text("")  # what a killed build leaves
    seen = {}

    def fake_load(**kwargs):
        seen["lock left"] = (tmp_path / "lock").exists()
        seen["directory"] = kwargs["build_directory"]

    monkeypatch.setattr(cpp_extension, "load", fake_load)
    kernels._build()
    assert seen == {"lock left": False, "directory": str(tmp_path)}

    loaded = []
    monkeypatch.setattr(torch.ops, "load_library", loaded.append)
    library = tmp_path / f"rnnlab_kernels_{kernels._tag()}.so"
    library.write_bytes(b"")
    seen.clear()
    kernels._build()
    assert loaded == [str(library)] and not seen  # no build, no ninja run


@pytest.mark.parametrize("norm", ["layernorm_ih", "layernorm_hh", "layernorm_cell"])
def test_a_layer_norm_without_gain_and_shift_takes_the_time_loop(norm):
    """The kernel applies all three norms' gains and shifts; a cell with one norm built
    without them (elementwise_affine=False) must run the loop, not crash in the kernel."""

    class PlainNormCell(rnnlab.LayerNormLSTMCell):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            size = getattr(self, norm).normalized_shape
            setattr(self, norm, torch.nn.LayerNorm(size, elementwise_affine=False))

    torch.manual_seed(5)
    layer = rnnlab.LSTM(3, 4, batch_first=True, bidirectional=True, cell=PlainNormCell)
    x = torch.randn(4, 5, 3)
    assert layer._path(True, 5, x) == "loop"
    loop = copy.deepcopy(layer)
    loop.use_fused_kernel = False
    got, want = layer(x, lengths=[5, 2, 1, 4]), loop(x, lengths=[5, 2, 1, 4])
    torch.testing.assert_close(got.output, want.output)


@pytest.mark.parametrize("cell", CELLS)
def test_a_nan_in_the_input_propagates_as_in_the_time_loop(cell):
    """tanh's clamp used to turn a NaN into ±1, so a NaN input gave finite outputs: the
    kernels now give NaN exactly where the time loop (torch's own ops) does, in float32."""
    torch.manual_seed(5)
    layer = _layer(cell, bidirectional=True)
    loop = _layer(cell, bidirectional=True, use_fused_kernel=False)
    loop.load_state_dict(layer.state_dict())
    x = torch.randn(5, 7, 3)
    x[1, 2, 0] = float("nan")
    ours, theirs = layer(x, lengths=LENGTHS).output, loop(x, lengths=LENGTHS).output
    assert torch.isnan(ours[1]).any()
    torch.testing.assert_close(torch.isnan(ours), torch.isnan(theirs))
    torch.testing.assert_close(ours.nan_to_num(7.0), theirs.nan_to_num(7.0), rtol=1e-5,
                               atol=1e-6)
