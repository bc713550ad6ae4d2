"""An elementwise update compiled to one fused C++ loop (rnnlab.core.update_codegen) and run
by the C++ time loop (torch.ops.rnnlab.split_forward/backward). Oracles: the same cell with
its update replayed by the TorchScript programs (RNNLAB_FUSED_UPDATE=0), called eagerly
(trace_update = False), and the plain autograd loop; torch.nn.LSTM for the minimal LSTM."""

from __future__ import annotations

import pytest
import torch

import rnnlab
from rnnlab.core import kernels, update_codegen
from rnnlab.core import update_programs as programs_module

from .test_split_step import MinimalGRU, MinimalLSTM, ScaledMGU
from .test_update_programs import NormedMGU

pytestmark = pytest.mark.skipif(
    not (kernels.available() and update_codegen.compiler_available()),
    reason="needs rnnlab's C++ kernels and a C++ compiler")


class OpZoo(rnnlab.RecurrentCell):
    """An update that uses most of what the fused loop translates: relu, clamp, where on a
    comparison, exp, division, a power, subtraction, a per-unit (vector) and a scalar
    parameter (their gradients are sums over rows and steps), slices (whose VJP pads the
    gradient back to the gates' width)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.input_map = torch.nn.Linear(input_size, 3 * hidden_size, bias=bias)
        self.weight_hh = torch.nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.peep = torch.nn.Parameter(torch.empty(hidden_size))
        self.temperature = torch.nn.Parameter(torch.tensor(0.7))
        self.reset_parameters()

    @property
    def state_sizes(self) -> tuple[int, int]:
        return (self.hidden_size, self.hidden_size)

    def precompute(self, inputs):
        return self.input_map(inputs)

    def update(self, gates, state):
        h, c = state
        a, b, d = gates[:, : self.hidden_size], gates[:, self.hidden_size:2 * self.hidden_size], \
            gates[:, 2 * self.hidden_size:]
        forget = torch.sigmoid(a + self.peep * c)
        candidate = torch.where(b > 0, torch.relu(b), torch.exp(b) - 1) / (1 + self.temperature)
        c = forget * c + (1 - forget) * candidate.clamp(-2.0, 2.0)
        h = torch.tanh(c) * torch.sigmoid(d) - 0.1 * (d / 3).pow(2)
        return h, (h, c)


def _layer(cell, fused: bool, monkeypatch, **kwargs):
    if not fused:
        monkeypatch.setenv("RNNLAB_FUSED_UPDATE", "0")
    else:
        monkeypatch.delenv("RNNLAB_FUSED_UPDATE", raising=False)
    torch.manual_seed(0)
    return rnnlab.Recurrent(5, 6, cell=cell, batch_first=True, **kwargs).double()


def _run(layer, x, lengths, seed=3):
    torch.manual_seed(seed)
    result = layer(x, lengths=lengths)
    h_n = result.h_n
    loss = (result.output.sin() * 3).sum() + h_n.cos().sum() + sum(
        part.square().sum() for part in result.final_states[1:])
    trained = [p for p in layer.parameters() if p.requires_grad]
    return [result.output, h_n, *torch.autograd.grad(loss, [x, *trained])]


def _fused_of(layer) -> list[bool]:
    return [programs.fused is not None for cell in layer.cells
            for programs in programs_module._cache.get(cell, {}).values() if programs]


# (tests/core/test_update_programs.py runs these cells, bar OpZoo, through the same fused
# path in 2-layer bidirectional layers with weight drop too, against eager and loop.)
@pytest.mark.parametrize("cell", [MinimalLSTM, ScaledMGU, MinimalGRU, OpZoo])
@pytest.mark.parametrize("dropout", [{}, {"recurrent_dropout": 0.3}])
def test_fused_loop_matches_the_programs_the_eager_update_and_the_plain_loop(
        cell, dropout, monkeypatch):
    kwargs = {"bidirectional": True, **dropout}
    x = torch.randn(4, 7, 5, dtype=torch.double, requires_grad=True)
    lengths = torch.tensor([7, 2, 0, 5])
    fused = _layer(cell, True, monkeypatch, **kwargs)
    got = _run(fused, x, lengths)
    assert _fused_of(fused) and all(_fused_of(fused))  # every layer and direction fused
    programs = _layer(cell, False, monkeypatch, **kwargs)
    replayed = _run(programs, x, lengths)
    assert not any(_fused_of(programs))
    eager = _layer(cell, True, monkeypatch, **kwargs)
    for layer_cell in eager.cells:
        layer_cell.trace_update = False
    loop = _layer(cell, True, monkeypatch, use_fused_kernel=False, **kwargs)
    for a, b, c, d in zip(got, replayed, _run(eager, x, lengths), _run(loop, x, lengths)):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)
        torch.testing.assert_close(a, c, rtol=1e-11, atol=1e-12)
        torch.testing.assert_close(a, d, rtol=1e-10, atol=1e-12)


def test_fused_loop_gradcheck_with_lengths(monkeypatch):
    layer = _layer(OpZoo, True, monkeypatch)
    lengths = torch.tensor([3, 1, 2])
    x = torch.randn(3, 3, 5, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(1, 3, 6, dtype=torch.double, requires_grad=True)
    c0 = torch.randn(1, 3, 6, dtype=torch.double, requires_grad=True)

    def function(x, h0, c0, peep, temperature):
        with layer.cells[0].weights_replaced({"peep": peep, "temperature": temperature}):
            result = layer(x, (h0, c0), lengths=lengths)
        return result.output, result.h_n, result.c_n

    cell = layer.cells[0]
    peep = cell.peep.detach().clone().requires_grad_()
    temperature = cell.temperature.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(function, (x, h0, c0, peep, temperature))
    assert all(_fused_of(layer))


def test_fused_minimal_lstm_equals_torch_nn_lstm_in_float32(monkeypatch):
    monkeypatch.delenv("RNNLAB_FUSED_UPDATE", raising=False)
    torch.manual_seed(1)
    reference = torch.nn.LSTM(5, 8, batch_first=True)
    layer = rnnlab.Recurrent(5, 8, cell=MinimalLSTM, batch_first=True)
    layer.load_state_dict(reference.state_dict())  # torch's parameter names
    x = torch.randn(6, 9, 5, requires_grad=True)
    ours = layer(x).output
    theirs = reference(x)[0]
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    assert all(_fused_of(layer))
    d_ours = torch.autograd.grad(ours.square().sum(), [x, *layer.parameters()])
    d_theirs = torch.autograd.grad(theirs.square().sum(), [x, *reference.parameters()])
    for a, b in zip(d_ours, d_theirs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


class MatrixInside(MinimalLSTM):
    """An update with a matrix product of its own: not elementwise, so not fused."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mix = torch.nn.Parameter(torch.eye(self.hidden_size) * 0.9)

    def update(self, gates, state):
        h, (h2, c) = super().update(gates, state)
        return h @ self.mix, (h2, c)


@pytest.mark.parametrize("cell", [NormedMGU, MatrixInside])
def test_an_update_that_is_not_elementwise_keeps_the_traced_programs(cell, monkeypatch):
    layer = _layer(cell, True, monkeypatch)
    loop = _layer(cell, True, monkeypatch, use_fused_kernel=False)
    x = torch.randn(3, 4, 5, dtype=torch.double, requires_grad=True)
    got = _run(layer, x, torch.tensor([4, 1, 3]))
    assert programs_module._cache.get(layer.cells[0]) and not any(_fused_of(layer))
    for a, b in zip(got, _run(loop, x, torch.tensor([4, 1, 3]))):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_without_a_compiler_the_programs_run(monkeypatch):
    monkeypatch.setattr(update_codegen, "compiler_available", lambda: False)
    layer = _layer(MinimalLSTM, True, monkeypatch)
    layer(torch.randn(2, 3, 5, dtype=torch.double))
    assert programs_module._cache.get(layer.cells[0]) and not any(_fused_of(layer))


def test_the_generated_loop_sums_parameter_gradients_over_rows(tmp_path, monkeypatch):
    """The VJP of a per-unit and a scalar parameter: results of kind vector and scalar, added
    into their buffers (the C++ loop sums them over steps that way), built once and cached."""
    from torch.fx.experimental.proxy_tensor import make_fx

    monkeypatch.setenv("RNNLAB_KERNEL_CACHE", str(tmp_path))

    def update(gates, c, peep, scale):
        return (torch.tanh(gates * peep + c) * scale,)

    def vjp(gates, c, peep, scale, d_out):
        _, pull = torch.func.vjp(update, gates, c, peep, scale)
        return pull((d_out,))

    args = [torch.randn(4, 3, dtype=torch.double) for _ in range(2)] + [
        torch.randn(3, dtype=torch.double), torch.tensor(1.3, dtype=torch.double),
        torch.randn(4, 3, dtype=torch.double)]
    graph = make_fx(vjp, tracing_mode="fake")(*args)
    program = update_codegen.fuse(graph, 4, lambda index, count: index not in (2, 3))
    assert program is not None
    assert program.outputs == ("row", "row", "vector", "scalar")
    assert len(list((tmp_path / "fused-updates").glob("*.so"))) == 1
    assert update_codegen.fuse(graph, 4, lambda index, count: index not in (2, 3)) is not None
    assert len(list((tmp_path / "fused-updates").glob("*.so"))) == 1  # the cached library

    import ctypes

    outputs = [torch.empty(4, 3, dtype=torch.double), torch.empty(4, 3, dtype=torch.double),
               torch.full((3,), 10.0, dtype=torch.double),
               torch.full((), 10.0, dtype=torch.double)]
    alive = torch.tensor([1, 0, 1, 1], dtype=torch.uint8)
    pointers = (ctypes.c_void_p * 5)(*(value.data_ptr() for value in args))
    out_pointers = (ctypes.c_void_p * 4)(*(value.data_ptr() for value in outputs))
    strides = (ctypes.c_int64 * 5)(3, 3, 0, 0, 3)
    out_strides = (ctypes.c_int64 * 4)(3, 3, 0, 0)
    function = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                                ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
                                    program.address)
    function(4, alive.data_ptr(), pointers, strides, out_pointers, out_strides)
    keep = alive.bool()
    want = vjp(*(value[keep] if value.dim() == 2 else value for value in args))
    torch.testing.assert_close(outputs[0][keep], want[0])
    torch.testing.assert_close(outputs[1][keep], want[1])
    torch.testing.assert_close(outputs[2], 10.0 + want[2])  # added to what the buffer held
    torch.testing.assert_close(outputs[3], 10.0 + want[3])


def test_an_empty_batch_runs(monkeypatch):
    layer = _layer(MinimalLSTM, True, monkeypatch)
    x = torch.randn(0, 3, 5, dtype=torch.double, requires_grad=True)
    result = layer(x)
    result.output.sum().backward()
    assert result.output.shape == (0, 3, 6) and x.grad.shape == (0, 3, 5)


def test_a_compiler_failure_warns_once_and_the_programs_run(tmp_path, monkeypatch):
    broken = tmp_path / "broken-cxx"
    broken.write_text("#!/bin/sh\necho 'cc1plus: fatal error: out of memory' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("CXX", str(broken))
    monkeypatch.setenv("RNNLAB_KERNEL_CACHE", str(tmp_path / "cache"))
    update_codegen._libraries.clear()
    with pytest.warns(RuntimeWarning, match="could not be compiled.*out of memory"):
        layer = _layer(MinimalLSTM, True, monkeypatch)
        loop = _layer(MinimalLSTM, True, monkeypatch, use_fused_kernel=False)
        x = torch.randn(2, 3, 5, dtype=torch.double, requires_grad=True)
        got = _run(layer, x, None)
    assert programs_module._cache.get(layer.cells[0]) and not any(_fused_of(layer))
    for a, b in zip(got, _run(loop, x, None)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    update_codegen._libraries.clear()


def test_a_nan_in_the_input_propagates_as_in_the_plain_loop(monkeypatch):
    monkeypatch.delenv("RNNLAB_FUSED_UPDATE", raising=False)
    torch.manual_seed(2)
    layer = rnnlab.Recurrent(5, 6, cell=MinimalLSTM, batch_first=True)
    loop = rnnlab.Recurrent(5, 6, cell=MinimalLSTM, batch_first=True, use_fused_kernel=False)
    loop.load_state_dict(layer.state_dict())
    x = torch.randn(3, 4, 5)
    x[2, 1, 3] = float("nan")
    ours, theirs = layer(x).output, loop(x).output
    assert all(_fused_of(layer)) and torch.isnan(ours[2, 1:]).all()
    torch.testing.assert_close(torch.isnan(ours), torch.isnan(theirs))
    torch.testing.assert_close(ours.nan_to_num(7.0), theirs.nan_to_num(7.0), rtol=1e-5,
                               atol=1e-6)


class WideOutput(OpZoo):
    """Its output is (h, c) side by side: output_size = 2 × hidden, so the layer above reads
    twice the state's width per direction."""

    @property
    def output_size(self) -> int:
        return 2 * self.hidden_size

    def update(self, gates, state):
        h, (h, c) = super().update(gates, state)
        return torch.cat([h, c], dim=-1), (h, c)


def test_a_cell_whose_output_is_wider_than_its_state_stacks(monkeypatch):
    kwargs = {"num_layers": 2, "bidirectional": True}
    fused = _layer(WideOutput, True, monkeypatch, **kwargs)
    loop = _layer(WideOutput, True, monkeypatch, use_fused_kernel=False, **kwargs)
    x = torch.randn(3, 4, 5, dtype=torch.double, requires_grad=True)
    lengths = torch.tensor([4, 2, 3])
    got = _run(fused, x, lengths)
    assert got[0].shape == (3, 4, 24) and all(_fused_of(fused))
    for a, b in zip(got, _run(loop, x, lengths)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
