"""Argument checks for the recurrent layers: each error names the argument, the value and
what is allowed, so a shape mistake is caught at the layer's door, not deep in a kernel."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rnnlab._config import is_int


def check_layer_args(
    input_size: int,
    hidden_size: int,
    num_layers: int,
    dropout: float,
    proj_size: int,
    bidirectional: bool,
    go_backwards: bool,
    **flags: bool,
) -> None:
    """Validate a layer's constructor arguments.

    Flags must be real booleans: torch takes any truthy value, so a string flag ("no") would
    silently mean True.
    """
    for name, value, minimum in (("input_size", input_size, 1), ("hidden_size", hidden_size, 1),
                                 ("num_layers", num_layers, 1), ("proj_size", proj_size, 0)):
        if not is_int(value) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if proj_size >= hidden_size:
        raise ValueError(f"proj_size must be smaller than hidden_size={hidden_size}, "
                         f"got {proj_size}")
    flags.update(bidirectional=bidirectional, go_backwards=go_backwards)
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
            or not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if go_backwards and bidirectional:
        raise ValueError(
            "go_backwards=True is for unidirectional layers (Keras semantics); "
            "use bidirectional=True alone for both directions in input order"
        )


def check_input(x: torch.Tensor, input_size: int, batch_first: bool) -> tuple[torch.Tensor, bool]:
    """Return ``x`` as ``(batch, time, input_size)`` and whether it was unbatched."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"x must be a floating-point tensor, got dtype {x.dtype} "
            "(token ids go through an nn.Embedding first)"
        )
    layout = "(batch, time, features)" if batch_first else "(time, batch, features)"
    if x.dim() not in (2, 3):
        raise ValueError(
            f"x must be 3-D {layout} or 2-D (time, features), got shape {tuple(x.shape)}"
        )
    if x.shape[-1] != input_size:
        raise ValueError(
            f"x has {x.shape[-1]} features in its last dimension but the layer was built with "
            f"input_size={input_size} (x shape {tuple(x.shape)}, expected {layout})"
        )
    if x.dim() == 2:
        return x.unsqueeze(0), True
    return (x if batch_first else x.transpose(0, 1)), False


def check_input_dtype(x: torch.Tensor, weight: torch.Tensor | None) -> None:
    """``x`` must have the layer's weight dtype (torch's fused kernels would fail cryptically)."""
    if weight is not None and x.dtype != weight.dtype:
        raise ValueError(
            f"input dtype {x.dtype} does not match weight dtype {weight.dtype}; convert the "
            f"input (x.to({weight.dtype})) or the layer (layer.to({x.dtype}))"
        )


def resolve_initial_state(hx, initial_state):
    """The initial state from torch's positional ``hx`` or rnnlab's ``initial_state=`` keyword.

    Catches the classic mistake of passing lengths where torch expects ``hx``.
    """
    if hx is not None and initial_state is not None:
        raise ValueError("pass the initial state once: as hx (torch's name) or initial_state=")
    state = initial_state if hx is None else hx
    if state is None:
        return None
    parts = (state,) if isinstance(state, torch.Tensor) else state
    if not isinstance(parts, (tuple, list)) or not all(
            isinstance(part, torch.Tensor) and part.is_floating_point() for part in parts):
        described = (f"a {state.dtype} tensor of shape {tuple(state.shape)}"
                     if isinstance(state, torch.Tensor) else type(state).__name__)
        raise TypeError(
            f"hx must be h_0 or (h_0, c_0), floating-point tensors (layers*directions, batch, "
            f"hidden), got {described}; lengths go in lengths= (e.g. lstm(x, lengths=lengths))"
        )
    return state


def check_initial_state(
    initial_state: torch.Tensor | Sequence[torch.Tensor] | None,
    cells: Sequence[nn.Module],
    num_layers: int,
    num_directions: int,
    batch: int,
    x: torch.Tensor,
    unbatched: bool,
) -> tuple[torch.Tensor, ...]:
    """Return the initial state as a tuple of ``(layers*directions, batch, size)`` tensors."""
    sizes = tuple(cells[0].state_sizes)
    stack = num_layers * num_directions
    if initial_state is None:
        return tuple(x.new_zeros(stack, batch, size) for size in sizes)
    parts = (initial_state,) if isinstance(initial_state, torch.Tensor) else tuple(initial_state)
    expected_form = "(h_0, c_0)" if len(sizes) == 2 else "h_0"
    if len(parts) != len(sizes):
        raise ValueError(
            f"initial_state must be {expected_form} ({len(sizes)} tensor(s)) for this cell, "
            f"got {len(parts)}"
        )
    checked = []
    for name, part, size in zip(("h_0", "c_0", "state_2", "state_3"), parts, sizes):
        expected = (stack, size) if unbatched else (stack, batch, size)
        if not isinstance(part, torch.Tensor) or tuple(part.shape) != expected:
            got = tuple(part.shape) if isinstance(part, torch.Tensor) else type(part).__name__
            raise ValueError(
                f"initial_state {name} must have shape (layers*directions, batch, size) = "
                f"{expected}, got {got}"
            )
        if part.dtype != x.dtype or part.device != x.device:
            raise ValueError(
                f"initial_state {name} must match x's dtype/device ({x.dtype}, {x.device}), "
                f"got ({part.dtype}, {part.device})"
            )
        checked.append(part.unsqueeze(1) if unbatched else part)
    return tuple(checked)
