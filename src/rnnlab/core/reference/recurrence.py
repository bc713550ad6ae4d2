"""One direction of one layer over time: padding, lengths and BPTT, in one place.

Every (padding, direction) case is reduced to the same loop by a *processing order*: for
each row, the input positions of its real tokens in the order the direction reads them. The
loop runs step s = 0 .. time-1; row b is *active* while s < lengths[b]. Example with
time 3 and lengths [1, 2, 3] ("·" = inactive step)::

    padding="post", x rows:  [a · ·]   [a b ·]   [a b c]
      forward  positions:    [0 · ·]   [0 1 ·]   [0 1 2]
      backward positions:    [0 · ·]   [1 0 ·]   [2 1 0]     <- starts at the last REAL token
    padding="pre",  x rows:  [· · a]   [· a b]   [a b c]
      forward  positions:    [2 · ·]   [1 2 ·]   [0 1 2]
      backward positions:    [2 · ·]   [2 1 ·]   [2 1 0]

Forward (step s, mask m = [s < lengths])::

    (h̃, c̃) = cell(x[pos[s]], h, c);   h, c = m ? (h̃, c̃) : (h, c);   y[pos[s]] = h if m

so an inactive row carries its state unchanged: the final state is the state after the
last real token, a length-0 row ends where it started, and padded outputs stay exactly zero.

Backward through time (BPTT), s = time-1 .. 0, with the gradients carried in dh, dc
(initialised from dL/dh_n, dL/dc_n)::

    dh_total = dh + dL/dy[pos[s]]
    active rows:   (dx[pos[s]], dh, dc) = cell_backward(dh_total, dc)    (+= parameter grads)
    inactive rows: dh, dc pass through unchanged (the carry h_s = h_{s-1} has Jacobian I)

and what is left in dh, dc at the end is dL/dh_0, dL/dc_0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnlab.core.reference.cells import Cell


@dataclass(frozen=True)
class DirectionCache:
    """What the forward pass of one direction keeps for BPTT.

    positions, active: (batch, time) processing order (see the module docstring);
    step_caches: one per step s; input_features: the size of the layer input.
    """

    positions: np.ndarray
    active: np.ndarray
    step_caches: list[Any]
    input_features: int


def processing_order(
    lengths: np.ndarray, time: int, padding: str, reverse: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (batch, time) read at each step and the mask (batch, time) of real steps.

    lengths: (batch,) ints in [0, time]; padding "post" (real tokens first) or "pre" (real
    tokens last); reverse=True is the backward direction. Inactive entries hold position 0.
    """
    steps = np.arange(time)[None, :]
    row_lengths = lengths[:, None]
    active = steps < row_lengths
    first_real = np.zeros_like(row_lengths) if padding == "post" else time - row_lengths
    positions = first_real + (row_lengths - 1 - steps if reverse else steps)
    return np.where(active, positions, 0), active


def _gather(values: np.ndarray, positions: np.ndarray, active: np.ndarray) -> np.ndarray:
    """values (batch, time, F) in input order -> (batch, time, F) in processing order,
    with zeros at inactive steps."""
    rows = np.arange(values.shape[0])[:, None]
    return np.where(active[..., None], values[rows, positions], 0.0)


def _scatter(values: np.ndarray, positions: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Inverse of ``_gather``: processing order -> input order, zeros at padded positions."""
    result = np.zeros_like(values)
    rows, steps = np.nonzero(active)
    result[rows, positions[rows, steps]] = values[rows, steps]
    return result


def run_forward(
    cell: Cell,
    weights: Mapping[str, np.ndarray],
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray | None,
    positions: np.ndarray,
    active: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, DirectionCache]:
    """Run ``cell`` over x: (batch, time, input) from h0: (batch, state), c0: (batch, hidden).

    Returns outputs (batch, time, state) in input order (zero at padding), the final
    h (batch, state), c (batch, hidden) or None, and the cache for ``run_backward``.
    """
    inputs = _gather(x, positions, active)
    outputs = np.zeros((*x.shape[:2], h0.shape[1]), dtype=np.result_type(x, h0))
    h, c = h0, c0
    step_caches = []
    for step in range(x.shape[1]):
        h_step, c_step, step_cache = cell.step_forward(weights, inputs[:, step], h, c)
        real = active[:, step, None]
        h = np.where(real, h_step, h)
        c = None if c is None else np.where(real, c_step, c)
        outputs[:, step] = np.where(real, h, 0.0)
        step_caches.append(step_cache)
    cache = DirectionCache(positions, active, step_caches, x.shape[2])
    return _scatter(outputs, positions, active), h, c, cache


def run_backward(
    cell: Cell,
    weights: Mapping[str, np.ndarray],
    cache: DirectionCache,
    d_outputs: np.ndarray,
    d_h_n: np.ndarray,
    d_c_n: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
    """BPTT for one direction. d_outputs: (batch, time, state) in input order,
    d_h_n: (batch, state), d_c_n: (batch, hidden) or None.

    Returns dx (batch, time, input), dh0 (batch, state), dc0 (batch, hidden) or None, and the
    parameter gradients keyed like ``weights``.
    """
    grads = {name: np.zeros_like(value) for name, value in weights.items()}
    d_step_outputs = _gather(d_outputs, cache.positions, cache.active)
    batch, time = cache.active.shape
    d_inputs = np.zeros((batch, time, cache.input_features), dtype=d_outputs.dtype)
    d_h, d_c = d_h_n, d_c_n
    for step in reversed(range(time)):
        real = cache.active[:, step, None]
        d_h_total = d_h + d_step_outputs[:, step]
        d_c_real = None if d_c is None else np.where(real, d_c, 0.0)
        d_x, d_h_prev, d_c_prev = cell.step_backward(
            weights, cache.step_caches[step], np.where(real, d_h_total, 0.0), d_c_real, grads
        )
        d_inputs[:, step] = d_x
        d_h = d_h_prev + np.where(real, 0.0, d_h_total)
        d_c = None if d_c is None else d_c_prev + np.where(real, 0.0, d_c)
    return _scatter(d_inputs, cache.positions, cache.active), d_h, d_c, grads
