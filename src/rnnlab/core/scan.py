"""The time loop: runs any cell over a post-padded batch, in either direction.

Used for cells without a fused kernel (the LSTM variants and user-written cells) and, on
request, for the standard cells too, which lets tests check the loop against ``torch.nn``.
"""

from __future__ import annotations

import torch

from rnnlab.core.cells import State
from rnnlab.core.padding import flip_sequences


def scan(
    cell: torch.nn.Module,
    inputs: torch.Tensor,
    state: State,
    lengths: torch.Tensor | None,
) -> tuple[torch.Tensor, State]:
    """Run ``cell`` left to right.

    Args:
        cell: a :class:`~rnnlab.core.cells.RecurrentCell` (or anything with its protocol).
        inputs: ``(batch, time, input_size)``, post-padded.
        state: the initial state, one ``(batch, size)`` tensor per part.
        lengths: ``(batch,)`` real lengths, or None when every position is real.

    Returns:
        ``outputs (batch, time, output_size)``, zero at padded positions, and the state at each
        sequence's last real token (the initial state for a sequence of length 0).
    """
    time = inputs.shape[1]
    precomputed = cell.precompute(inputs) if hasattr(cell, "precompute") else inputs
    step = cell.step if hasattr(cell, "step") else cell
    alive_by_step = None
    if lengths is not None:
        # alive_by_step[t]: (batch, 1) — which sequences still have a real token at step t.
        steps = torch.arange(time, device=inputs.device).unsqueeze(1)
        alive_by_step = (steps < lengths.to(inputs.device).unsqueeze(0)).unsqueeze(-1)
    outputs = []
    for t in range(time):
        h_t, new_state = step(precomputed[:, t], state)
        if alive_by_step is not None:
            alive = alive_by_step[t]
            # Past its end a sequence keeps its state, so its final state is the one at its
            # last real token, and its outputs are zero.
            state = tuple(torch.where(alive, new, old) for new, old in zip(new_state, state))
            h_t = h_t * alive
        else:
            state = tuple(new_state)
        outputs.append(h_t)
    if not outputs:
        empty = inputs.new_zeros(inputs.shape[0], 0, state[0].shape[-1])
        return empty, state
    return torch.stack(outputs, dim=1), state


def scan_reversed(
    cell: torch.nn.Module,
    inputs: torch.Tensor,
    state: State,
    lengths: torch.Tensor | None,
) -> tuple[torch.Tensor, State]:
    """Run ``cell`` right to left over each sequence's real tokens; outputs in input order.

    The backward pass starts at each sequence's last *real* token, never in the padding: the
    real part is reversed (:func:`~rnnlab.core.padding.flip_sequences`), scanned, and the
    outputs are reversed back. The final state is the one at the first token.
    """
    outputs, final_state = scan(cell, flip_sequences(inputs, lengths), state, lengths)
    return flip_sequences(outputs, lengths), final_state
