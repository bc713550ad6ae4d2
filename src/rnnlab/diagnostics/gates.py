"""One step of each cell with its gates exposed: what the fused kernels compute but hide.

``torch.lstm``/``torch.gru`` return only ``h`` (and the final ``c``); the gates never leave the
kernel. Here each standard cell and LSTM variant gets a step function that recomputes them
from the cell's weights, with the cell's own equations (see its docstring)::

    step(cell, precomputed_t, state) -> (h_next, next_state, {gate name: (batch, units)})

``precomputed_t`` is ``cell.precompute(x)[:, t]`` (``W_ih x_t + b_ih``), as the time loop
feeds it. Gate values are the activations (after σ or tanh), named by what they do:

    LSTM, peephole, layer-norm   input, forget, output, candidate   (i, f, o, g)
    CIFG                         input, forget (= 1 − input), output, candidate
    GRU                          update, reset, new                 (z, r, n)
    RNN                          none: h is the only state

A user cell shows its gates by defining the same step as a method,
``step_with_gates(precomputed_t, state) -> (h_next, next_state, gates)``; a cell without one
is still run (its states are shown) and reported as exposing no gates.

These run in eval semantics: no recurrent dropout mask, no weight drop (that is training).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.core.cell_variants import CIFGLSTMCell, LayerNormLSTMCell, PeepholeLSTMCell
from rnnlab.core.cells import GRUCell, LSTMCell, RNNCell, State

Gates = dict[str, torch.Tensor]
GateStep = Callable[[nn.Module, torch.Tensor, State], tuple[torch.Tensor, State, Gates]]

LSTM_GATES = ("input", "forget", "output", "candidate")
GRU_GATES = ("update", "reset", "new")


def _lstm(cell: LSTMCell, precomputed_t: torch.Tensor, state: State):
    h, c = state
    i, f, g, o = (precomputed_t + F.linear(h, cell.weight_hh, cell.bias_hh)).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_next = f * c + i * g
    h_next = o * torch.tanh(c_next)
    if cell.proj_size > 0:
        h_next = F.linear(h_next, cell.weight_hr)
    return h_next, (h_next, c_next), {"input": i, "forget": f, "output": o, "candidate": g}


def _gru(cell: GRUCell, precomputed_t: torch.Tensor, state: State):
    (h,) = state
    x_r, x_z, x_n = precomputed_t.chunk(3, dim=-1)
    h_r, h_z, h_n = F.linear(h, cell.weight_hh, cell.bias_hh).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    h_next = (1 - z) * n + z * h
    return h_next, (h_next,), {"update": z, "reset": r, "new": n}


def _rnn(cell: RNNCell, precomputed_t: torch.Tensor, state: State):
    (h,) = state
    activation = torch.tanh if cell.nonlinearity == "tanh" else torch.relu
    h_next = activation(precomputed_t + F.linear(h, cell.weight_hh, cell.bias_hh))
    return h_next, (h_next,), {}


def _peephole(cell: PeepholeLSTMCell, precomputed_t: torch.Tensor, state: State):
    h, c = state
    i, f, g, o = (precomputed_t + F.linear(h, cell.weight_hh, cell.bias_hh)).chunk(4, dim=-1)
    peep_i, peep_f, peep_o = cell.weight_peephole
    i, f, g = torch.sigmoid(i + peep_i * c), torch.sigmoid(f + peep_f * c), torch.tanh(g)
    c_next = f * c + i * g
    o = torch.sigmoid(o + peep_o * c_next)  # the output gate peeks at the new cell state
    h_next = o * torch.tanh(c_next)
    return h_next, (h_next, c_next), {"input": i, "forget": f, "output": o, "candidate": g}


def _cifg(cell: CIFGLSTMCell, precomputed_t: torch.Tensor, state: State):
    h, c = state
    i, g, o = (precomputed_t + F.linear(h, cell.weight_hh, cell.bias_hh)).chunk(3, dim=-1)
    i, g, o = torch.sigmoid(i), torch.tanh(g), torch.sigmoid(o)
    c_next = (1 - i) * c + i * g
    h_next = o * torch.tanh(c_next)
    return h_next, (h_next, c_next), {"input": i, "forget": 1 - i, "output": o, "candidate": g}


def _layernorm(cell: LayerNormLSTMCell, precomputed_t: torch.Tensor, state: State):
    h, c = state
    recurrent = cell.layernorm_hh(F.linear(h, cell.weight_hh))
    if cell.bias:
        recurrent = recurrent + cell.bias_hh
    i, f, g, o = (precomputed_t + recurrent).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_next = f * c + i * g
    h_next = o * torch.tanh(cell.layernorm_cell(c_next))
    return h_next, (h_next, c_next), {"input": i, "forget": f, "output": o, "candidate": g}


# Exact classes: a subclass that changes the step must not be explained by its parent's
# equations (see ``gate_step``).
GATE_STEPS: dict[type[nn.Module], GateStep] = {
    LSTMCell: _lstm,
    GRUCell: _gru,
    RNNCell: _rnn,
    PeepholeLSTMCell: _peephole,
    CIFGLSTMCell: _cifg,
    LayerNormLSTMCell: _layernorm,
}


def gate_step(cell: nn.Module) -> GateStep | None:
    """The gate-exposing step of ``cell``, or None if it exposes no gates.

    A cell's own ``step_with_gates`` method comes first; then the step for its class, also
    for a subclass as long as it keeps the parent's ``step`` and ``precompute``.
    """
    own = getattr(cell, "step_with_gates", None)
    if callable(own):
        return lambda _cell, precomputed_t, state: own(precomputed_t, state)
    for cls in type(cell).__mro__:
        if cls in GATE_STEPS:
            keeps_equations = all(getattr(type(cell), name) is getattr(cls, name)
                                  for name in ("step", "precompute", "forward", "_recurrent",
                                                "recurrent_input"))
            return GATE_STEPS[cls] if keeps_equations else None
    return None


def gate_names(cell: nn.Module) -> tuple[str, ...]:
    """The gates :func:`gate_step` reports for a standard cell, in display order (empty for
    an RNN cell or a cell whose gates are known only once it runs)."""
    step = gate_step(cell)
    if step in (_lstm, _peephole, _cifg, _layernorm):
        return LSTM_GATES
    return GRU_GATES if step is _gru else ()
