"""A user cell's update traced into programs (rnnlab.core.update_programs): the split runner
replays them instead of calling update and autograd at every step. Checked against the eager
update (trace_update = False) and the plain loop; what cannot be traced faithfully runs
eagerly with a warning, randomness is refused."""

from __future__ import annotations

import warnings

import pytest
import torch

import rnnlab
from rnnlab.core import update_programs as programs_module
from rnnlab.core.update_programs import update_programs

from .test_split_step import MinimalGRU, MinimalLSTM, ScaledMGU


class NormedMGU(ScaledMGU):
    """Its update reads a sub-module's parameters (a LayerNorm's gain and bias)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias)
        self.norm = torch.nn.LayerNorm(hidden_size)
        with torch.no_grad():
            self.norm.weight.uniform_(0.5, 1.5)
            self.norm.bias.uniform_(-0.3, 0.3)

    def update(self, gates, state):
        f, n = gates.chunk(2, dim=-1)
        f = torch.sigmoid(f)
        h = (1 - f) * state[0] + f * torch.tanh(self.norm(n) * (1 + self.gain))
        return h, (h,)


def _layers(cell, **kwargs):
    torch.manual_seed(0)
    traced = rnnlab.Recurrent(5, 6, cell=cell, batch_first=True, **kwargs).double()
    eager = rnnlab.Recurrent(5, 6, cell=cell, batch_first=True, **kwargs).double()
    eager.load_state_dict(traced.state_dict())
    for layer_cell in eager.cells:
        layer_cell.trace_update = False
    loop = rnnlab.Recurrent(5, 6, cell=cell, batch_first=True, use_fused_kernel=False,
                            **kwargs).double()
    loop.load_state_dict(traced.state_dict())
    return traced, eager, loop


def _run(layer, x, lengths, seed=3):
    torch.manual_seed(seed)
    result = layer(x, lengths=lengths)
    loss = (result.output.sin() * 3).sum() + result.h_n.cos().sum()
    trained = [p for p in layer.parameters() if p.requires_grad]
    return [result.output, result.h_n, *torch.autograd.grad(loss, [x, *trained])]


@pytest.mark.parametrize("cell", [MinimalLSTM, ScaledMGU, NormedMGU, MinimalGRU])
@pytest.mark.parametrize("dropout", [{}, {"recurrent_dropout": 0.3}, {"weight_dropout": 0.3}])
def test_traced_eager_and_loop_agree(cell, dropout):
    traced, eager, loop = _layers(cell, num_layers=2, bidirectional=True, **dropout)
    x = torch.randn(4, 7, 5, dtype=torch.double, requires_grad=True)
    lengths = torch.tensor([7, 2, 0, 5])
    got, eager_got, want = (_run(layer, x, lengths) for layer in (traced, eager, loop))
    for a, b, c in zip(got, eager_got, want):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-12)
    assert all(programs_module._cache.get(c) for c in traced.cells)  # traced: programs kept
    assert not any(programs_module._cache.get(c) for c in eager.cells)


def test_after_tracing_update_is_not_called_and_the_programs_read_live_parameters():
    traced, _, loop = _layers(NormedMGU)
    x = torch.randn(3, 4, 5, dtype=torch.double)
    traced(x)  # traces
    calls = []
    cell = traced.cells[0]
    original = type(cell).update
    cell.update = lambda *args: calls.append(1) or original(cell, *args)
    with torch.no_grad():  # an optimiser step: the programs must see the new values
        for layer in (traced, loop):
            layer.cells[0].norm.weight.mul_(1.7)
            layer.cells[0].gain.add_(0.2)
    torch.testing.assert_close(traced(x).output, loop(x).output, rtol=1e-12, atol=1e-12)
    assert calls == []


def test_programs_take_only_the_parameters_update_reads_and_follow_shape_and_mode():
    def programs_of(cell, batch):
        from rnnlab.core.split_step import _update_parameters

        names, subs, params = _update_parameters(cell)
        gates = torch.zeros(batch, cell.weight_hh.shape[0])
        state = tuple(torch.zeros(batch, size) for size in cell.state_sizes)
        return update_programs(cell, (gates,), state, params, names, subs), names

    lstm = MinimalLSTM(3, 4)
    found, names = programs_of(lstm, 2)
    assert found.used == ()  # weight_ih, bias_ih: precompute's, not update's
    normed = NormedMGU(3, 4)
    found, names = programs_of(normed, 2)
    read = {names[i] or "sub" for i in found.used}
    assert read == {"gain", "sub"} and len(found.used) == 3  # gain, norm.weight, norm.bias
    assert programs_of(normed, 2)[0] is found  # kept
    assert programs_of(normed, 5)[0] is not found  # another batch size: traced again
    normed.eval()
    assert programs_of(normed, 2)[0] is not found  # eval mode may take another branch


class ValueBranch(MinimalLSTM):
    def update(self, gates, state):
        if gates.abs().max() > 1e6:  # Python control flow on a value: cannot be traced
            gates = gates.clamp(-1e6, 1e6)
        return super().update(gates, state)


class TensorAttribute(MinimalLSTM):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scale = torch.tensor(1.0, dtype=torch.double)  # neither parameter nor argument

    def update(self, gates, state):
        return super().update(gates * self.scale, state)


class FrozenGain(ScaledMGU):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gain.requires_grad_(False)  # fine-tuning with the gain kept fixed


@pytest.mark.parametrize("cell", [ValueBranch, TensorAttribute, FrozenGain])
def test_what_a_program_cannot_replay_runs_eagerly_with_a_warning(cell):
    programs_module._warned.discard(cell)
    traced, _, loop = _layers(cell)
    x = torch.randn(3, 4, 5, dtype=torch.double, requires_grad=True)
    with pytest.warns(RuntimeWarning, match=f"{cell.__name__}.update runs eagerly"):
        got = _run(traced, x, None)
    for a, b in zip(got, _run(loop, x, None)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    if cell is TensorAttribute:  # not frozen: a changed attribute changes the result
        for layer in (traced, loop):
            layer.cells[0].scale = torch.tensor(0.3, dtype=torch.double)
        torch.testing.assert_close(traced(x).output, loop(x).output, rtol=1e-12, atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per cell class
        _run(traced, x, None)


def test_an_update_that_draws_random_numbers_is_refused():
    class Noisy(MinimalLSTM):
        def update(self, gates, state):
            return super().update(gates + 0.1 * torch.randn_like(gates), state)

    layer = rnnlab.Recurrent(2, 3, cell=Noisy)
    with pytest.raises(ValueError, match=r"Noisy.update draws random numbers \(randn_like\)"):
        layer(torch.zeros(2, 3, 2))


def test_a_changed_python_attribute_traces_again_instead_of_replaying_a_stale_program():
    class Switchable(MinimalLSTM):
        squash = True

        def update(self, gates, state):
            if self.squash:  # Python control flow on a plain attribute: baked into a trace
                gates = torch.tanh(gates) * 3
            return super().update(gates, state)

    traced, _, loop = _layers(Switchable)
    x = torch.randn(3, 4, 5, dtype=torch.double)
    for squash in (True, False, True):
        for layer in (traced, loop):
            layer.cells[0].squash = squash
        torch.testing.assert_close(traced(x).output, loop(x).output, rtol=1e-12, atol=1e-12)
    assert len(programs_module._cache[traced.cells[0]]) == 2


def test_a_cell_fed_ever_new_batch_sizes_stops_tracing_and_stays_right(monkeypatch):
    monkeypatch.setattr(programs_module, "MAX_PROGRAMS_PER_CELL", 2)
    traced, _, loop = _layers(MinimalLSTM)
    programs_module._warned.discard(MinimalLSTM)
    outputs = []
    with pytest.warns(RuntimeWarning, match="already traced for 2 different shapes"):
        for batch in (1, 2, 3, 4):
            x = torch.randn(batch, 3, 5, dtype=torch.double)
            outputs.append((traced(x).output, loop(x).output))
    assert len(programs_module._cache[traced.cells[0]]) == 2  # kept, not evicted
    for got, want in outputs:
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
