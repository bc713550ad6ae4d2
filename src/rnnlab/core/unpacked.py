"""Variable-length batches on the *unpacked* fused kernels: exact at real positions, and fast.

PyTorch's packed kernels are several times slower than its unpacked ones on CPU (packing
leaves oneDNN; the packed backward zero-fills buffers at every step: 152 ms against 39 ms for
an LSTM forward+backward at (batch 64, time 100, input 64, hidden 128), see
benchmarks/RESULTS.md). Padding does not need packing to be harmless, only the right layout:

* forward direction, post padding: the output at t depends on tokens ≤ t only, so running
  straight through the padding leaves every real position exact;
* backward direction: the real part of each row is reversed first (``flip_sequences``), so
  the backward pass also starts at the last real token, with the padding behind it.

Each layer and direction is one unpacked kernel call; outputs at padding are zeroed, and the
final ``h`` is read off the output at the last real token. The final LSTM cell state is not
an output, so it is rebuilt on demand from the exact ``h`` sequence: with ``h_{t-1}`` known
for every step the gates need no recurrence (one batched matrix product), and
``c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t`` is a cheap element-wise scan. Autograd flows through
both, so gradients through ``c_n`` are exact too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from rnnlab.core.cells import RecurrentCell
from rnnlab.core.fused import KERNELS
from rnnlab.core.padding import flip_sequences, lengths_to_mask


def run_unpacked(
    mode: str,
    cells: Sequence[RecurrentCell],
    inputs: torch.Tensor,
    initial_states: tuple[torch.Tensor, ...],
    lengths: torch.Tensor,
    *,
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    training: bool,
) -> tuple[torch.Tensor, torch.Tensor, Callable[[], torch.Tensor] | None]:
    """Run a stack of standard cells over a post-padded batch, layer by layer.

    Args:
        mode, cells, initial_states: as :func:`rnnlab.core.fused.run_fused`.
        inputs: ``(batch, time, input_size)``, post-padded.
        lengths: ``(batch,)`` int64 real lengths.

    Returns:
        ``outputs (batch, time, directions*output_size)`` (zero at padding),
        ``h_n (layers*directions, batch, output_size)``, and for LSTM cells a function that
        computes ``c_n (layers*directions, batch, hidden)`` (None for other cells).
    """
    kernel = KERNELS[mode]
    directions = 2 if bidirectional else 1
    batch, time = inputs.shape[0], inputs.shape[1]
    device = inputs.device
    real = lengths_to_mask(lengths, time, "post", device=device).unsqueeze(-1)
    rows = torch.arange(batch, device=device)
    last = (lengths.to(device) - 1).clamp(min=0)
    empty = (lengths.to(device) == 0).unsqueeze(-1)
    layer_input, final_h, cell_jobs = inputs, [], []
    for layer in range(num_layers):
        if layer > 0 and dropout > 0 and training:
            layer_input = F.dropout(layer_input, dropout, True)
        direction_outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            cell = cells[index]
            start = tuple(state[index] for state in initial_states)
            x = layer_input if direction == 0 else flip_sequences(layer_input, lengths)
            hx = tuple(s.unsqueeze(0) for s in start) if mode == "LSTM" else start[0][None]
            raw = kernel(x, hx, cell.fused_weights(), bool(cell.bias), 1, 0.0, training,
                         False, True)[0]
            final_h.append(torch.where(empty, start[0], raw[rows, last]))
            if mode == "LSTM":
                # Weights as they are now: c_n must not change if an optimiser steps before
                # it is read (clone() keeps the gradient path to the parameters).
                weights = [w.clone() for w in cell.fused_weights()]
                cell_jobs.append((weights, bool(cell.bias), x, raw, start))
            output = raw * real
            direction_outputs.append(output if direction == 0
                                     else flip_sequences(output, lengths))
        layer_input = torch.cat(direction_outputs, dim=-1)

    cell_state = None
    if mode == "LSTM":
        def cell_state() -> torch.Tensor:
            return torch.stack([_final_cell_state(*job, real, empty) for job in cell_jobs])
    return layer_input, torch.stack(final_h), cell_state


def _final_cell_state(
    weights: list[torch.Tensor],
    has_bias: bool,
    x: torch.Tensor,
    h: torch.Tensor,
    start: tuple[torch.Tensor, torch.Tensor],
    real: torch.Tensor,
    empty: torch.Tensor,
) -> torch.Tensor:
    """``c`` at each row's last real token, from the inputs ``x (batch, time, input)`` and the
    exact hidden states ``h (batch, time, output)`` of one LSTM layer and direction."""
    w_ih, w_hh = weights[0], weights[1]
    b_ih, b_hh = (weights[2], weights[3]) if has_bias else (None, None)
    h0, c0 = start
    h_prev = torch.cat([h0.unsqueeze(1), h[:, :-1]], dim=1)
    gates = F.linear(x, w_ih, b_ih) + F.linear(h_prev, w_hh, b_hh)
    i, f, g, _ = gates.chunk(4, dim=-1)
    i, f, g = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g)
    c = c0
    for t in range(x.shape[1]):
        c = torch.where(real[:, t], f[:, t] * c + i[:, t] * g[:, t], c)
    return torch.where(empty, c0, c)
