"""PyTorch's fused recurrent kernels (the ones behind ``torch.nn.LSTM``), for standard cells.

With lengths, the batch is packed (``pack_padded_sequence``) so each direction sees only real
tokens: the backward direction starts at each sequence's last real token, exactly as
``torch.nn.LSTM`` does with a ``PackedSequence``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab.core.cells import RecurrentCell

KERNELS = {
    "LSTM": torch.lstm,
    "GRU": torch.gru,
    "RNN_TANH": torch.rnn_tanh,
    "RNN_RELU": torch.rnn_relu,
}


def fused_mode_of(cells: Sequence[torch.nn.Module]) -> str | None:
    """The kernel that can run all ``cells`` at once, or None if they need the time loop."""
    modes = {getattr(cell, "fused_mode", None) for cell in cells}
    if len(modes) != 1 or None in modes:
        return None
    biases = {getattr(cell, "bias", None) for cell in cells}
    return modes.pop() if len(biases) == 1 else None


def run_fused(
    mode: str,
    cells: Sequence[RecurrentCell],
    inputs: torch.Tensor,
    initial_states: tuple[torch.Tensor, ...],
    lengths: torch.Tensor | None,
    *,
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    training: bool,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Run a stack of standard cells with one fused kernel call.

    Args:
        mode: "LSTM", "GRU", "RNN_TANH" or "RNN_RELU" (see :func:`fused_mode_of`).
        cells: ``layers*directions`` cells, layer-major, forward before backward.
        inputs: ``(batch, time, input_size)``, post-padded.
        initial_states: ``(h_0,)`` or ``(h_0, c_0)``, each ``(layers*directions, batch, size)``.
        lengths: ``(batch,)`` int64 on the CPU, or None.

    Returns:
        ``outputs (batch, time, directions*output_size)`` (zero at padding) and the final states
        in the layout of ``initial_states``.
    """
    kernel = KERNELS[mode]
    weights = [weight for cell in cells for weight in cell.fused_weights()]
    has_biases = bool(getattr(cells[0], "bias", True))
    hx = initial_states if mode == "LSTM" else initial_states[0]
    flags = (has_biases, num_layers, dropout, training, bidirectional)

    if lengths is None:
        result = kernel(inputs, hx, weights, *flags, True)
        return result[0], tuple(result[1:])

    # pack_padded_sequence rejects empty sequences: run them for one (discarded) step.
    empty = lengths == 0
    packed = pack_padded_sequence(inputs, lengths.clamp(min=1), batch_first=True,
                                  enforce_sorted=False)
    order, restore = packed.sorted_indices, packed.unsorted_indices
    sorted_hx = (
        tuple(state.index_select(1, order) for state in hx)
        if mode == "LSTM" else hx.index_select(1, order)
    )
    result = kernel(packed.data, packed.batch_sizes, sorted_hx, weights, *flags)
    packed_out = PackedSequence(result[0], packed.batch_sizes, order, restore)
    outputs, _ = pad_packed_sequence(packed_out, batch_first=True,
                                     total_length=inputs.shape[1])
    finals = tuple(state.index_select(1, restore) for state in result[1:])
    if bool(empty.any()):
        empty = empty.to(inputs.device)
        outputs = outputs.masked_fill(empty.view(-1, 1, 1), 0.0)
        finals = tuple(
            torch.where(empty.view(1, -1, 1), initial, final)
            for initial, final in zip(initial_states, finals)
        )
    return outputs, finals
