"""From a recurrent layer's outputs to one vector per sequence: last state, mean or max.

With pre-padding, lengths [2, 4] and time 4 (``_`` = padding, ``h`` = real output)::

    output   [_  _  h2 h3]    masked mean: (h2 + h3) / 2     unmasked: (_ + _ + h2 + h3) / 4
             [h0 h1 h2 h3]    masked last: fwd h3 ⊕ bwd h2   unmasked: fwd h3 ⊕ bwd at _

Masked pooling reads only real positions; unmasked pooling is Keras's ``AveragePooling1D``
over all steps (or ``GlobalMaxPooling1D``), padding included, as seed 002 runs it.
"""

from __future__ import annotations

import torch

from rnnlab.core.output import RecurrentOutput


def pool_states(result: RecurrentOutput, pooling: str) -> torch.Tensor:
    """``(batch, directions*hidden)`` summary of ``result.output (batch, time, features)``.

    ``pooling``: "last" (forward state at the last real token ⊕ backward state at the first,
    see :attr:`RecurrentOutput.last`), "mean" or "max" over the real positions — every
    position when the layer ran without lengths. A sequence of length 0 pools to zeros
    ("mean", "max") or to the initial state ("last").
    """
    if pooling == "last":
        return result.last
    output = result.output
    if result.lengths is None:  # unmasked: every position counts, as in Keras
        return output.mean(dim=1) if pooling == "mean" else output.amax(dim=1)
    mask = result.mask.unsqueeze(-1)  # (batch, time, 1), True at real positions
    if pooling == "mean":
        # output is already zero at padding; divide by the real length, not by time.
        counts = mask.sum(dim=1).clamp(min=1).to(output.dtype)
        return output.sum(dim=1) / counts
    if pooling == "max":
        filled = output.masked_fill(~mask, float("-inf")).amax(dim=1)
        empty = ~mask.any(dim=1)  # (batch, 1)
        return filled.masked_fill(empty, 0.0)
    raise ValueError(f"pooling must be one of ['last', 'mean', 'max'], got {pooling!r}")
