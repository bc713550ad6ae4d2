"""Lengths, masks and the padding side: validated, placed and converted here, in one place.

Two padding sides are supported. With ``lengths = [2, 4]`` and ``time = 4``::

    post (real tokens first)        pre (real tokens last)
    [[a, b, _, _],                  [[_, _, a, b],
     [c, d, e, f]]                   [c, d, e, f]]

The layers convert "pre" to "post" on the way in (:func:`pre_to_post`) and back on the way
out (:func:`post_to_pre`), so everything in between reasons about one layout only. Lengths are
checked once, at the layer's door (:func:`as_lengths`, :func:`lengths_from_mask`), and placed
on the input's device once; everything after trusts them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import numpy as np
import torch

LengthsLike = torch.Tensor | np.ndarray | Sequence[int]


class Padding(str, enum.Enum):
    """Where the padding of a batch sits: ``POST`` (after the real tokens) or ``PRE``.

    A ``str`` subclass, so ``Padding.PRE == "pre"`` and either spelling is accepted anywhere.
    """

    POST = "post"
    PRE = "pre"

    @classmethod
    def of(cls, value: str | Padding) -> Padding:
        """``value`` as a :class:`Padding`, or a ValueError naming the allowed sides."""
        try:
            return cls(value)
        except ValueError:
            allowed = tuple(side.value for side in cls)
            raise ValueError(f"padding must be one of {allowed}, got {value!r}") from None

    @property
    def opposite(self) -> Padding:
        return Padding.PRE if self is Padding.POST else Padding.POST

    def __str__(self) -> str:
        return self.value


PADDING_SIDES = tuple(side.value for side in Padding)


def check_padding(padding: str | Padding) -> Padding:
    """``padding`` as a :class:`Padding` if it names a known side, else a ValueError."""
    return Padding.of(padding)


def is_tracing() -> bool:
    """True under ``torch.compile`` or ``torch.export``: no data-dependent Python branches then.

    Value checks that need a tensor's contents (``lengths.max() > time``) are skipped while
    tracing; the graph itself stays correct for valid input.
    """
    return torch.compiler.is_compiling() or torch.compiler.is_exporting()


def as_lengths(
    lengths: LengthsLike, *, batch: int, time: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """Validate ``lengths`` and return them as an int64 tensor ``(batch,)`` on ``device``.

    Accepts a list, a NumPy array or a tensor of any integer (or integral float) dtype and any
    device. Every length must lie in ``[0, time]``.
    """
    if isinstance(lengths, torch.Tensor):
        values = lengths.detach()
    else:
        array = np.asarray(lengths)
        if array.dtype.kind not in "biuf":  # strings, None, objects, complex numbers
            raise TypeError(f"lengths must be integers (a list, array or tensor), got "
                            f"{_excerpt(lengths)} (dtype {array.dtype})")
        values = torch.as_tensor(array)
    if values.dim() != 1:
        raise ValueError(
            f"lengths must be 1-D with one entry per sequence (batch={batch}), "
            f"got shape {tuple(values.shape)}"
        )
    if values.shape[0] != batch:
        raise ValueError(
            f"lengths must have one entry per sequence: expected {batch} (the batch size), "
            f"got {values.shape[0]}"
        )
    if values.dtype == torch.bool:
        raise ValueError("lengths must be integers, got a boolean tensor (pass it as mask=)")
    if values.is_complex():
        raise TypeError(f"lengths must be real integers, got dtype {values.dtype}")
    if not is_tracing():
        _check_length_values(values, time)
    return values.to(device=device, dtype=torch.int64)


def _excerpt(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _check_length_values(values: torch.Tensor, time: int) -> None:
    # Python numbers, not tensor reductions: exact for uint64 >= 2**63 and huge floats, whose
    # cast to int64 would wrap (2**63 read as -9223372036854775808).
    items = values.tolist()
    if not items:
        return
    if values.is_floating_point():
        bad = [item for item in items if not math.isfinite(item) or item != round(item)]
        if bad:
            raise ValueError(f"lengths must be finite whole numbers, got {_excerpt(bad)}")
    low, high = min(items), max(items)
    if low < 0:
        raise ValueError(f"lengths must be >= 0, got min {_format_length(low)}")
    if high > time:
        raise ValueError(f"lengths must be in [0, {time}] for time={time}, "
                         f"got max {_format_length(high)}")


def _format_length(value: float) -> str:
    if isinstance(value, int) or abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3g}"


def lengths_from_mask(
    mask: torch.Tensor, *, batch: int, time: int, padding: Padding | None
) -> tuple[torch.Tensor, Padding]:
    """Lengths ``(batch,)`` and the padding side of a boolean ``mask (batch, time)``.

    The real steps of each row must be one contiguous run at the start (post padding) or at
    the end (pre padding). With ``padding=None`` the side is read off the mask; a mask that
    fits neither side, or not the side asked for, is an error.

    >>> mask = torch.tensor([[False, True, True], [True, True, True]])
    >>> lengths, side = lengths_from_mask(mask, batch=2, time=3, padding=None)
    >>> lengths.tolist(), side.value
    ([2, 3], 'pre')
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a boolean tensor (batch, time), got {got}")
    if tuple(mask.shape) != (batch, time):
        raise ValueError(
            f"mask must have shape (batch, time) = {(batch, time)}, got {tuple(mask.shape)}"
        )
    lengths = mask.sum(dim=1)
    if is_tracing():
        if padding is None:
            raise ValueError("while tracing (torch.export), pass padding= with mask=: the "
                             "side cannot be read off the mask without a data-dependent branch")
        return lengths, padding
    sides = [padding] if padding is not None else [Padding.POST, Padding.PRE]
    for side in sides:
        if torch.equal(lengths_to_mask(lengths, time, side, device=mask.device), mask):
            return lengths, side
    rows = [row for row in range(batch)
            if not any(torch.equal(lengths_to_mask(lengths[row:row + 1], time, side,
                                                   device=mask.device)[0], mask[row])
                       for side in sides)]
    wanted = f"padding={sides[0].value!r}" if padding is not None else "post or pre padding"
    raise ValueError(
        f"mask must mark one contiguous run of real steps per row ({wanted}); rows {rows} "
        "do not (pass lengths= instead, or fix the mask)"
    )


def lengths_to_mask(
    lengths: torch.Tensor,
    time: int,
    padding: str | Padding = Padding.POST,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Boolean mask ``(batch, time)``, True at real positions.

    >>> lengths_to_mask(torch.tensor([1, 3]), 3).int().tolist()
    [[1, 0, 0], [1, 1, 1]]
    >>> lengths_to_mask(torch.tensor([1, 3]), 3, padding="pre").int().tolist()
    [[0, 0, 1], [1, 1, 1]]
    """
    padding = Padding.of(padding)
    device = lengths.device if device is None else device
    positions = torch.arange(time, device=device)
    lengths = lengths.to(device)
    if padding is Padding.POST:
        return positions.unsqueeze(0) < lengths.unsqueeze(1)
    return positions.unsqueeze(0) >= (time - lengths).unsqueeze(1)


def zero_padding(x: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
    """``x (batch, time, *features)`` with every padded position exactly 0.

    ``real (batch, time)`` is True at real positions. ``torch.where``, not a product: NaN or
    inf in the padding becomes 0 instead of ``NaN * 0 = NaN``, and no gradient flows into it.
    """
    if real is None:
        return x
    real = real.view(*real.shape, *([1] * (x.dim() - 2)))
    return torch.where(real, x, torch.zeros((), dtype=x.dtype, device=x.device))


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


def flip_time(x, *, batch_first: bool | None = None) -> torch.Tensor:
    """Reverse the whole time axis, padding included.

    This is how Keras 3 reorders a ``go_backwards=True`` layer's outputs (processing order)
    back into input order, masked or not: ``Bidirectional`` applies exactly this flip.

    Args:
        x: a tensor ``(batch, time, *features)`` if ``batch_first`` else ``(time, batch,
            *features)``; or a :class:`~rnnlab.core.output.RecurrentOutput`, whose own layout
            is used (then ``batch_first`` must be omitted).
        batch_first: the layout of a tensor ``x``. Required: rnnlab layers are time-major by
            default (as torch's) while most models are batch-first, so guessing would flip
            the batch axis of one of them. ``layer.flip_time(x)`` takes the layer's layout.
    """
    if hasattr(x, "output") and hasattr(x, "batch_first"):
        if batch_first is not None:
            raise ValueError("flip_time of a RecurrentOutput takes its own layout; "
                             "omit batch_first")
        return x.output.flip(1 if x.batch_first else 0)
    if batch_first is None:
        raise TypeError(
            "flip_time needs the layout: flip_time(x, batch_first=True) for (batch, time, ...), "
            "batch_first=False for (time, batch, ...), or layer.flip_time(x)"
        )
    return x.flip(1 if batch_first else 0)
