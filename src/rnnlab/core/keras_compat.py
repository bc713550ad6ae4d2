"""Keras's ``go_backwards`` on a padded batch, and its ``zero_output_for_mask`` flag.

Keras reads a ``go_backwards=True`` layer right to left by flipping the whole time axis,
padding included, and returns outputs in that processing order. A masked padded step
repeats the previous output, or outputs zeros with ``zero_output_for_mask=True``. With post
padding (lengths [2], time 4)::

    input order        x0  x1  _   _
    processing order   _   _   x1  x0      (the padding now leads: pre padding)
    outputs            0   0   o1  o0      leading padding: zeros, Keras's initial output

With pre padding the flip makes the padding trail, and each padded step repeats the last real
output unless ``zero_output_for_mask``.
"""

from __future__ import annotations

import torch

from rnnlab.core.padding import Padding, lengths_to_mask


def to_processing_order(x: torch.Tensor, padding: Padding) -> tuple[torch.Tensor, Padding]:
    """``x (batch, time, features)`` flipped in time, and the padding side it then has."""
    return x.flip(1), padding.opposite


def mask_padded_outputs(
    outputs: torch.Tensor,
    lengths: torch.Tensor | None,
    processing_padding: Padding,
    zero_output_for_mask: bool,
) -> torch.Tensor:
    """Keras's outputs at padded steps, for ``outputs (batch, time, features)`` in processing
    order with post padding trailing (``processing_padding`` is the side before conversion)."""
    if lengths is None or processing_padding is not Padding.POST or zero_output_for_mask:
        return outputs
    return repeat_last_output(outputs, lengths)


def repeat_last_output(outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Keras masking on post-padded processing order: a padded step repeats the last output.

    ``outputs: (batch, time, features)``; zero-length rows stay zero.
    """
    time = outputs.shape[1]
    last_index = (lengths - 1).clamp(min=0)
    last = outputs[torch.arange(outputs.shape[0], device=outputs.device), last_index]
    padded = ~lengths_to_mask(lengths, time, Padding.POST)
    return torch.where(padded.unsqueeze(-1), last.unsqueeze(1), outputs)
