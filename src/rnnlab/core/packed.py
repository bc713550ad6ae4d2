"""PackedSequence in, PackedSequence out: how a layer takes torch's packed input.

The layer unpacks to a post-padded batch with lengths, runs as usual, and packs its output
the way the input was packed (same ``batch_sizes``, same sort order), so ``output.data``
lines up row for row with what ``torch.nn.LSTM`` returns for the same PackedSequence.
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab.core.padding import Padding


def unpack(
    packed: PackedSequence, *, lengths, mask, padding: Padding | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``packed`` as a batch-first post-padded tensor ``(batch, time, features)`` and its
    ``(batch,)`` lengths, in the original (unsorted) batch order."""
    if lengths is not None or mask is not None:
        raise ValueError("a PackedSequence carries its own lengths: pass no lengths=/mask=")
    if padding is Padding.PRE:
        raise ValueError("a PackedSequence is post-padded by construction: drop padding=")
    return pad_packed_sequence(packed, batch_first=True)


def pack_like(outputs: torch.Tensor, lengths: torch.Tensor,
              packed: PackedSequence) -> PackedSequence:
    """``outputs (batch, time, features)`` packed exactly as ``packed`` was."""
    order = packed.sorted_indices
    if order is not None:
        outputs, lengths = outputs.index_select(0, order), lengths.index_select(0, order)
    data = pack_padded_sequence(outputs, lengths.cpu(), batch_first=True,
                                enforce_sorted=True).data
    return PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                          packed.unsorted_indices)
