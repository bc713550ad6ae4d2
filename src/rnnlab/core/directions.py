"""Direction runners: one layer, one direction, over a post-padded batch, five ways.

Every runner takes the same arguments and returns a :class:`DirectionRun`; the stack
composer (:mod:`rnnlab.core.stack`) picks one and never looks inside. A backward direction
reaches a runner already reversed (``flip_sequences``), so every runner reads left to right.

``kernel``  PyTorch's fused kernel straight through the padding (standard cells).
            PyTorch's packed kernels are several times slower than its unpacked ones on CPU
            (packing leaves oneDNN; the packed backward zero-fills buffers at every step:
            152 ms against 39 ms for an LSTM forward+backward at batch 64, time 100, input 64,
            hidden 128, see benchmarks/RESULTS.md). Padding needs no packing to be harmless,
            only the right layout: with post padding the output at t depends on steps ≤ t
            only, so every real position is exact. The final ``h`` is read off the output at
            the last real step; the final LSTM cell state is not an output, so it is rebuilt
            on demand from the exact ``h`` sequence (with every ``h_{t-1}`` known the gates
            need no recurrence, and ``c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t`` is a cheap scan).
``packed``  the fused kernel on a PackedSequence: computes real steps only. Faster for GRU and
            RNN inference, which have no oneDNN kernel.
``native``  rnnlab's own fused kernels (:mod:`rnnlab.core.kernels`, C++ with hand-written
            BPTT) for GRU and the LSTM family (standard, peephole, CIFG, layer-normalised):
            lengths and Gal's
            recurrent dropout run inside the kernel, so the final states come straight from
            it and padded steps cost one masked row each.
``split``   user cells that define ``update`` (the elementwise part of a step): the time
            loop without autograd's per-step graph, hand-written BPTT around the cell's
            ``update`` (:mod:`rnnlab.core.split_step`).
``loop``    the Python time loop (:func:`rnnlab.core.scan.scan`): any cell, recurrent
            dropout, zoneout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.core.cells import RecurrentCell
from rnnlab.core.fused import call_kernel, call_kernel_packed, native_kind_of
from rnnlab.core.kernels import ops as native_ops
from rnnlab.core.padding import is_tracing, zero_padding
from rnnlab.core.scan import scan
from rnnlab.core.split_step import run_split as run_split_step

FinalState = tuple[torch.Tensor, ...] | Callable[[], tuple[torch.Tensor, ...]]


class DirectionRun(NamedTuple):
    """What a runner returns.

    ``outputs (batch, time, output_size)``, exactly zero at padding; ``h_n (batch, output)``,
    the hidden state at each row's last real step (its start state for length 0); ``others``,
    the other final state parts (``(c_n,)`` for LSTM cells) likewise, or a function that
    computes them when first asked for.
    """

    outputs: torch.Tensor
    h_n: torch.Tensor
    others: FinalState


class Steps(NamedTuple):
    """Where the real steps are, decided once per forward pass (None: every step is real).

    ``lengths (batch,)`` int64 and ``real (batch, time)`` bool, both on the input's device.
    """

    lengths: torch.Tensor | None
    real: torch.Tensor | None

    @property
    def empty(self) -> torch.Tensor | None:
        """``(batch, 1)``: rows of length 0."""
        return None if self.lengths is None else (self.lengths == 0).unsqueeze(-1)


def run_kernel(
    mode: str, cell: RecurrentCell, x: torch.Tensor, start: tuple[torch.Tensor, ...],
    steps: Steps, *, training: bool,
) -> DirectionRun:
    """The fused kernel through the padding; see the module docstring."""
    raw, finals = call_kernel(mode, cell, x, start)
    if steps.lengths is None:
        return DirectionRun(raw, finals[0], finals[1:])
    rows = torch.arange(x.shape[0], device=x.device)
    last = (steps.lengths - 1).clamp(min=0)
    h_n = torch.where(steps.empty, start[0], raw[rows, last])
    outputs = zero_padding(raw, steps.real)
    if mode != "LSTM":
        return DirectionRun(outputs, h_n, ())
    # The weights as they are now (clone keeps the gradient path): c_n must not change if an
    # optimiser steps, or weight drop redraws, before it is read.
    weights = [weight.clone() for weight in cell.fused_weights()]
    has_bias = bool(cell.bias)
    return DirectionRun(
        outputs, h_n, lambda: (_final_cell_state(weights, has_bias, x, raw, start, steps),))


def _final_cell_state(
    weights: list[torch.Tensor], has_bias: bool, x: torch.Tensor, h: torch.Tensor,
    start: tuple[torch.Tensor, torch.Tensor], steps: Steps,
) -> torch.Tensor:
    """``c`` at each row's last real step, from the inputs ``x (batch, time, input)`` and the
    exact hidden states ``h (batch, time, output)`` of one LSTM layer and direction."""
    w_ih, w_hh = weights[0], weights[1]
    b_ih, b_hh = (weights[2], weights[3]) if has_bias else (None, None)
    h0, c0 = start
    if is_tracing():
        # The same h_{t-1}, cut from time + 1 steps: slicing h to time - 1 steps makes torch's
        # contiguity check ask whether time - 1 == 1, a guard that fixes the export's time.
        h_prev = torch.cat([h0.unsqueeze(1), h], dim=1)[:, :-1]
    else:
        h_prev = torch.cat([h0.unsqueeze(1), h[:, :-1]], dim=1)
    gates = F.linear(x, w_ih, b_ih) + F.linear(h_prev, w_hh, b_hh)
    i, f, g, _ = gates.chunk(4, dim=-1)
    i, f, g = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g)
    if is_tracing():
        return _final_cell_state_closed_form(i, f, g, c0, steps)
    c = c0
    for t in range(x.shape[1]):
        c = torch.where(steps.real[:, t].unsqueeze(-1), f[:, t] * c + i[:, t] * g[:, t], c)
    return torch.where(steps.empty, c0, c)


def _final_cell_state_closed_form(i, f, g, c0, steps: Steps) -> torch.Tensor:
    """The same ``c`` without a loop over time, so a traced graph serves any time.

    With forget gates 1 and no input past each row's end, ``c_T = Π_t f_t · c_0 +
    Σ_s (Π_{t>s} f_t) · i_s g_s``. The products are sums of ``log f`` (a cumulative sum),
    in float64: their differences would lose digits in float32 over long sequences.
    ``i, f, g (batch, time, hidden)``; ``c0 (batch, hidden)``.
    """
    real = steps.real.unsqueeze(-1)
    log_f = torch.where(real, torch.log(f.double().clamp_min(1e-300)), 0.0)
    contribution = torch.where(real, (i * g).double(), 0.0)
    after = log_f.sum(dim=1, keepdim=True) - log_f.cumsum(dim=1)  # Σ_{t>s} log f_t
    c = (torch.exp(after) * contribution).sum(dim=1) + torch.exp(log_f.sum(dim=1)) * c0.double()
    return c.to(c0.dtype)


def run_packed(
    mode: str, cell: RecurrentCell, x: torch.Tensor, start: tuple[torch.Tensor, ...],
    steps: Steps, *, training: bool,
) -> DirectionRun:
    """The fused kernel on real steps only (a PackedSequence); see the module docstring."""
    if steps.lengths is None:
        return run_kernel(mode, cell, x, start, steps, training=training)
    # pack_padded_sequence rejects empty rows: they run for one (discarded) step.
    packed = pack_padded_sequence(x, steps.lengths.clamp(min=1).cpu(), batch_first=True,
                                  enforce_sorted=False)
    sorted_start = tuple(part.index_select(0, packed.sorted_indices) for part in start)
    data, finals = call_kernel_packed(mode, cell, packed, sorted_start)
    outputs, _ = pad_packed_sequence(packed._replace(data=data), batch_first=True,
                                     total_length=x.shape[1])
    finals = tuple(part.index_select(0, packed.unsorted_indices) for part in finals)
    finals = tuple(torch.where(steps.empty, initial, final)
                   for initial, final in zip(start, finals))
    return DirectionRun(zero_padding(outputs, steps.real), finals[0], finals[1:])


def run_native(
    cell: RecurrentCell, x: torch.Tensor, start: tuple[torch.Tensor, ...], steps: Steps, *,
    training: bool, recurrent_mask: torch.Tensor | None = None,
) -> DirectionRun:
    """rnnlab's fused kernel for ``cell`` (see the module docstring).

    ``recurrent_mask (batch, size)``: as :func:`run_loop`'s, applied inside the kernel.
    """
    kind = native_kind_of(cell)
    if kind == "layernorm":
        return _run_layer_norm_lstm(cell, x, start, steps, recurrent_mask)
    projected = cell.precompute(x.transpose(0, 1))  # (time, batch, gates*hidden), one GEMM
    bias = cell.bias_hh if cell.bias else None
    if kind == "gru":
        outputs, h_n = native_ops.gru(projected, start[0], cell.weight_hh, bias, steps.lengths,
                                      recurrent_mask)
        return DirectionRun(outputs.transpose(0, 1), h_n, ())
    peephole = cell.weight_peephole if kind == "peephole" else None
    outputs, h_n, c_n = native_ops.lstm_family(kind, projected, start[0], start[1],
                                               cell.weight_hh, bias, peephole, steps.lengths,
                                               recurrent_mask)
    return DirectionRun(outputs.transpose(0, 1), h_n, (c_n,))


def _run_layer_norm_lstm(
    cell: RecurrentCell, x: torch.Tensor, start: tuple[torch.Tensor, ...], steps: Steps,
    recurrent_mask: torch.Tensor | None,
) -> DirectionRun:
    """The layer-normalised LSTM's kernel: it normalises the input projections too, so they
    enter raw (one GEMM), and the four vectors added to the gate input enter as one sum."""
    norm_ih, norm_hh, norm_c = cell.layernorm_ih, cell.layernorm_hh, cell.layernorm_cell
    projected = F.linear(x.transpose(0, 1), cell.weight_ih)  # (time, batch, 4*hidden)
    shift = norm_ih.bias + norm_hh.bias
    if cell.bias:
        shift = shift + cell.bias_ih + cell.bias_hh
    outputs, h_n, c_n = native_ops.layer_norm_lstm(
        projected, start[0], start[1], cell.weight_hh, norm_ih.weight, shift, norm_hh.weight,
        norm_c.weight, norm_c.bias, (norm_ih.eps, norm_hh.eps, norm_c.eps), steps.lengths,
        recurrent_mask)
    return DirectionRun(outputs.transpose(0, 1), h_n, (c_n,))


def run_split(
    cell: RecurrentCell, x: torch.Tensor, start: tuple[torch.Tensor, ...], steps: Steps, *,
    training: bool, recurrent_mask: torch.Tensor | None = None,
) -> DirectionRun:
    """A user cell that defines ``update``, with hand-written BPTT around it
    (:mod:`rnnlab.core.split_step`). ``recurrent_mask`` as :func:`run_loop`'s."""
    outputs, final = run_split_step(cell, x, start, steps.real, recurrent_mask)
    return DirectionRun(outputs, final[0], tuple(final[1:]))


def run_loop(
    cell: RecurrentCell, x: torch.Tensor, start: tuple[torch.Tensor, ...], steps: Steps, *,
    training: bool, recurrent_mask: torch.Tensor | None = None,
    zoneout_rates: Sequence[float] | None = None,
) -> DirectionRun:
    """The Python time loop, for any cell, with recurrent dropout and zoneout.

    ``recurrent_mask (batch, size)``: Gal's dropout mask on ``h_{t-1}`` where it enters the
    recurrent product, the same at every step (None: no recurrent dropout).
    """
    if recurrent_mask is None:
        outputs, final = scan(cell, x, start, steps.real, zoneout_rates=zoneout_rates,
                              training=training)
        return DirectionRun(outputs, final[0], tuple(final[1:]))
    if not hasattr(cell, "recurrent_mask"):
        raise TypeError(
            f"recurrent_dropout needs a cell derived from rnnlab.RecurrentCell, got "
            f"{type(cell).__name__}"
        )
    with cell.recurrent_mask(recurrent_mask):
        outputs, final = scan(cell, x, start, steps.real, zoneout_rates=zoneout_rates,
                              training=training)
        if x.shape[1] and not cell.recurrent_mask_was_used():
            raise TypeError(
                f"recurrent_dropout: {type(cell).__name__} never passed h through "
                "self.recurrent_input(h); call it on h before the recurrent matrix product"
            )
    return DirectionRun(outputs, final[0], tuple(final[1:]))


