"""Lengths, masks and the padding side: handled here, in one place.

Two padding sides are supported. With ``lengths = [2, 4]`` and ``time = 4``::

    post (real tokens first)        pre (real tokens last)
    [[a, b, _, _],                  [[_, _, a, b],
     [c, d, e, f]]                   [c, d, e, f]]

The layers convert "pre" to "post" on the way in (:func:`pre_to_post`) and back on the way
out (:func:`post_to_pre`), so everything in between reasons about one layout only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

PADDING_SIDES = ("post", "pre")

LengthsLike = torch.Tensor | np.ndarray | Sequence[int]


def check_padding(padding: str) -> str:
    """Return ``padding`` if it names a known side, else raise a ValueError saying which exist."""
    if padding not in PADDING_SIDES:
        raise ValueError(f"padding must be one of {PADDING_SIDES}, got {padding!r}")
    return padding


def as_lengths(lengths: LengthsLike, *, batch: int, time: int) -> torch.Tensor:
    """Validate ``lengths`` and return them as an int64 CPU tensor of shape ``(batch,)``.

    Accepts a list, a NumPy array or a tensor of any integer (or integral float) dtype and any
    device. Every length must lie in ``[0, time]``.
    """
    if isinstance(lengths, torch.Tensor):
        values = lengths.detach().to("cpu")
    else:
        values = torch.as_tensor(np.asarray(lengths))
    if values.dim() != 1:
        raise ValueError(
            f"lengths must be 1-D with one entry per sequence (batch={batch}), "
            f"got shape {tuple(values.shape)}"
        )
    if values.numel() != batch:
        raise ValueError(
            f"lengths must have one entry per sequence: expected {batch} (the batch size), "
            f"got {values.numel()}"
        )
    if values.is_floating_point():
        if not torch.equal(values, values.round()):
            raise ValueError(f"lengths must be whole numbers, got {values.tolist()}")
    elif values.dtype == torch.bool:
        raise ValueError("lengths must be integers, got a boolean tensor (pass a mask's sum)")
    values = values.to(torch.int64)
    if batch and int(values.min()) < 0:
        raise ValueError(f"lengths must be >= 0, got min {int(values.min())}")
    if batch and int(values.max()) > time:
        raise ValueError(
            f"lengths must be in [0, {time}] for time={time}, got max {int(values.max())}"
        )
    return values


def lengths_to_mask(
    lengths: torch.Tensor, time: int, padding: str = "post", device: torch.device | None = None
) -> torch.Tensor:
    """Boolean mask ``(batch, time)``, True at real positions.

    >>> lengths_to_mask(torch.tensor([1, 3]), 3).int().tolist()
    [[1, 0, 0], [1, 1, 1]]
    >>> lengths_to_mask(torch.tensor([1, 3]), 3, padding="pre").int().tolist()
    [[0, 0, 1], [1, 1, 1]]
    """
    check_padding(padding)
    positions = torch.arange(time, device=device)
    lengths = lengths.to(device)
    if padding == "post":
        return positions.unsqueeze(0) < lengths.unsqueeze(1)
    return positions.unsqueeze(0) >= (time - lengths).unsqueeze(1)


def _gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x[b, index[b, t]]`` for ``x: (batch, time, *features)`` and ``index: (batch, time)``."""
    expanded = index.view(*index.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
    return torch.gather(x, 1, expanded)


def pre_to_post(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Move each row's real tokens from the end to the start. ``x: (batch, time, *features)``.

    Padding values travel along (they end up at the back), so the result is a permutation of
    each row. Lengths [1, 3] turn ``[[_, _, a], [b, c, d]]`` into ``[[a, _, _], [b, c, d]]``.
    """
    time = x.shape[1]
    shift = (time - lengths).to(x.device)
    index = (torch.arange(time, device=x.device).unsqueeze(0) + shift.unsqueeze(1)) % time
    return _gather_time(x, index)


def post_to_pre(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`pre_to_post`: move real tokens from the start to the end."""
    time = x.shape[1]
    shift = (time - lengths).to(x.device)
    index = (torch.arange(time, device=x.device).unsqueeze(0) - shift.unsqueeze(1)) % time
    return _gather_time(x, index)


def flip_sequences(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Reverse the real part of each post-padded row, leaving the padding where it is.

    ``x: (batch, time, *features)``. With lengths [1, 2, 3]::

        [[1, 0, 0],        [[1, 0, 0],
         [2, 3, 0],   ->    [3, 2, 0],
         [4, 5, 6]]         [6, 5, 4]]

    With ``lengths=None`` every row is full and the whole time axis is reversed.
    """
    if lengths is None:
        return x.flip(1)
    time = x.shape[1]
    positions = torch.arange(time, device=x.device).unsqueeze(0)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(positions < lengths, lengths - 1 - positions, positions)
    return _gather_time(x, index)


def flip_time(x: torch.Tensor, *, batch_first: bool = True) -> torch.Tensor:
    """Reverse the whole time axis, padding included.

    This is how Keras 3 reorders a ``go_backwards=True`` layer's outputs (processing order)
    back into input order, masked or not: ``Bidirectional`` applies exactly this flip.
    ``x: (batch, time, *features)`` if ``batch_first`` else ``(time, batch, *features)``.
    """
    return x.flip(1 if batch_first else 0)
