"""PyTorch's fused recurrent kernels (the ones behind ``torch.nn.LSTM``), for standard cells.

Two ways to call them:

* :func:`run_whole_stack`: every layer and direction in one call, exactly as ``torch.nn.LSTM``
  does without lengths (same numbers, same speed);
* :func:`call_kernel`: one layer and one direction, which the per-direction runners in
  :mod:`rnnlab.core.directions` build on (lengths, locked dropout between layers).

Under ``torch.compile`` the layers run eagerly behind a graph break (``Recurrent.forward``),
as ``torch.nn.LSTM`` itself does: Dynamo does not trace RNN modules, and tracing ``torch.lstm``
into oneDNN's training kernel fails in torch 2.13. ``torch.export`` traces each call as one
``aten.lstm``/``aten.gru`` node.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rnnlab.core.cells import RecurrentCell

KERNELS = {
    "LSTM": torch.lstm,
    "GRU": torch.gru,
    "RNN_TANH": torch.rnn_tanh,
    "RNN_RELU": torch.rnn_relu,
}


def runs_own_equations(cell: torch.nn.Module, declared_by: type) -> bool:
    """Whether ``cell`` still computes what ``declared_by`` (the class that named a kernel for
    it) computes: a subclass that overrides its step must not be run by the kernel."""
    return isinstance(cell, declared_by) and all(
        getattr(type(cell), name) is getattr(declared_by, name)
        for name in ("step", "precompute", "forward", "_recurrent", "recurrent_input"))


def _declaring_class(cell: torch.nn.Module, attribute: str) -> type | None:
    for klass in type(cell).__mro__:
        if attribute in vars(klass):
            return klass
    return None


def native_kind_of(cell: torch.nn.Module) -> str | None:
    """rnnlab's fused kernel for ``cell`` (see :mod:`rnnlab.core.kernels`), or None."""
    kind = getattr(cell, "native_kind", None)
    declared_by = _declaring_class(cell, "native_kind")
    if kind is None or declared_by is None or not runs_own_equations(cell, declared_by):
        return None
    if kind == "layernorm" and any(  # the kernel applies each norm's gain and shift
            getattr(cell, name).weight is None or getattr(cell, name).bias is None
            for name in ("layernorm_ih", "layernorm_hh", "layernorm_cell")):
        return None
    return kind


def fused_mode_of(cells: Sequence[torch.nn.Module]) -> str | None:
    """The kernel that can run all ``cells`` at once, or None if they need the time loop."""
    modes = {getattr(cell, "fused_mode", None) if runs_own_equations(
        cell, _declaring_class(cell, "fused_mode") or type(cell)) else None for cell in cells}
    if len(modes) != 1 or None in modes:
        return None
    biases = {getattr(cell, "bias", None) for cell in cells}
    return modes.pop() if len(biases) == 1 else None


def _dense_call(mode: str, inputs, hx, weights, has_biases, num_layers, dropout, training,
                bidirectional):
    return KERNELS[mode](inputs, hx, weights, has_biases, num_layers, dropout, training,
                         bidirectional, True)


def _packed_call(mode: str, data, batch_sizes, hx, weights, has_biases, num_layers, dropout,
                 training, bidirectional):
    return KERNELS[mode](data, batch_sizes, hx, weights, has_biases, num_layers, dropout,
                         training, bidirectional)


def _hx(mode: str, states: tuple[torch.Tensor, ...]):
    return states if mode == "LSTM" else states[0]


def run_whole_stack(
    mode: str,
    cells: Sequence[RecurrentCell],
    inputs: torch.Tensor,
    initial_states: tuple[torch.Tensor, ...],
    *,
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    training: bool,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Run a stack of standard cells over full-length ``inputs`` with one kernel call.

    Args:
        mode: "LSTM", "GRU", "RNN_TANH" or "RNN_RELU" (see :func:`fused_mode_of`).
        cells: ``layers*directions`` cells, layer-major, forward before backward.
        inputs: ``(batch, time, input_size)``.
        initial_states: ``(h_0,)`` or ``(h_0, c_0)``, each ``(layers*directions, batch, size)``.
        dropout: torch's dropout between layers (per element).

    Returns:
        ``outputs (batch, time, directions*output_size)`` and the final states in the layout
        of ``initial_states``.
    """
    weights = [weight for cell in cells for weight in cell.fused_weights()]
    result = _dense_call(mode, inputs, _hx(mode, initial_states), weights,
                         has_biases=bool(cells[0].bias), num_layers=num_layers,
                         dropout=dropout, training=training, bidirectional=bidirectional)
    return result[0], tuple(result[1:])


def call_kernel(
    mode: str, cell: RecurrentCell, inputs: torch.Tensor, start: tuple[torch.Tensor, ...]
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """One layer, one direction, left to right over every step of ``inputs``.

    ``inputs (batch, time, input)``, ``start``: one ``(batch, size)`` tensor per state part.
    Returns ``outputs (batch, time, output)`` and the state after the last step.
    """
    hx = tuple(part.unsqueeze(0) for part in start)
    result = _dense_call(mode, inputs, _hx(mode, hx), cell.fused_weights(),
                         has_biases=bool(cell.bias), num_layers=1, dropout=0.0,
                         training=False, bidirectional=False)
    return result[0], tuple(part.squeeze(0) for part in result[1:])


def call_kernel_packed(
    mode: str,
    cell: RecurrentCell,
    packed: torch.nn.utils.rnn.PackedSequence,
    start: tuple[torch.Tensor, ...],
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """:func:`call_kernel` on a PackedSequence: only real steps are computed.

    ``start`` is in the packed (sorted) batch order; so are the returned final states.
    Returns the packed output data and the final states.
    """
    hx = tuple(part.unsqueeze(0) for part in start)
    result = _packed_call(mode, packed.data, packed.batch_sizes, _hx(mode, hx),
                          cell.fused_weights(), has_biases=bool(cell.bias), num_layers=1,
                          dropout=0.0, training=False, bidirectional=False)
    return result[0], tuple(part.squeeze(0) for part in result[1:])
