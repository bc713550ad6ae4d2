"""The time loop: runs any cell over a post-padded batch, left to right.

Used for cells without a fused kernel (the LSTM variants and user-written cells), for the
dropout methods that change every step (recurrent dropout, zoneout) and, on request, for the
standard cells too, which lets tests check the loop against ``torch.nn``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rnnlab.core.cells import State
from rnnlab.core.dropout import zoneout


def scan(
    cell: torch.nn.Module,
    inputs: torch.Tensor,
    state: State,
    real: torch.Tensor | None,
    *,
    zoneout_rates: Sequence[float] | None = None,
    training: bool = False,
) -> tuple[torch.Tensor, State]:
    """Run ``cell`` left to right.

    Args:
        cell: a :class:`~rnnlab.core.cells.RecurrentCell` (or anything with its protocol).
        inputs: ``(batch, time, input_size)``, post-padded.
        state: the initial state, one ``(batch, size)`` tensor per part.
        real: ``(batch, time)`` bool, True at real steps; None when every step is real.
        zoneout_rates: one zoneout rate per state part (see :func:`rnnlab.core.dropout.zoneout`).
        training: whether zoneout draws masks (training) or uses its expectation (eval).

    Returns:
        ``outputs (batch, time, output_size)``, zero at padded positions, and the state at each
        sequence's last real token (the initial state for a sequence of length 0).
    """
    time = inputs.shape[1]
    precomputed = cell.precompute(inputs) if hasattr(cell, "precompute") else inputs
    step = cell.step if hasattr(cell, "step") else cell
    zoning = zoneout_rates is not None and any(rate > 0 for rate in zoneout_rates)
    zero = torch.zeros((), dtype=inputs.dtype, device=inputs.device)
    outputs = []
    for t in range(time):
        h_t, new_state = step(precomputed[:, t], state)
        if zoning:
            new_state = zoneout(state, new_state, zoneout_rates, training)
            h_t = new_state[0]
        if real is not None:
            alive = real[:, t].unsqueeze(-1)  # (batch, 1): which rows have a real step at t
            # Past its end a sequence keeps its state, so its final state is the one at its
            # last real token, and its outputs are zero.
            state = tuple(torch.where(alive, new, old) for new, old in zip(new_state, state))
            h_t = torch.where(alive, h_t, zero)
        else:
            state = tuple(new_state)
        outputs.append(h_t)
    if not outputs:
        empty = inputs.new_zeros(inputs.shape[0], 0, state[0].shape[-1])
        return empty, state
    return torch.stack(outputs, dim=1), state
