"""The multi-layer, bidirectional driver: the public ``forward`` and ``backward``.

Layer k > 0 reads the concatenation [forward outputs | backward outputs] of layer k-1, both
in input order; final states are stacked as torch does, index = layer * directions + direction::

    x ──► layer 0 ─┬─ forward  (reads each row's real tokens first → last)  ─┐
                   └─ backward (reads each row's real tokens last → first) ─┴─ concat ─► layer 1 …

``backward`` walks the same graph in reverse: the gradient reaching layer k's input is split
by features into the two directions' output gradients of layer k-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnlab.core.reference import recurrence, validation
from rnnlab.core.reference.cells import Cell
from rnnlab.core.reference.validation import LayerSizes, local_names, parameter_name


@dataclass(frozen=True)
class ReferenceCache:
    """Everything ``backward`` needs; produced by ``forward``, not meant to be built by hand.

    direction_caches[layer * directions + direction] holds that direction's BPTT cache.
    """

    cell: Cell
    params: dict[str, np.ndarray]
    sizes: LayerSizes
    num_layers: int
    directions: int
    batch: int
    time: int
    direction_caches: list[recurrence.DirectionCache]


def forward(
    kind: str,
    x: np.ndarray,
    params: dict[str, np.ndarray],
    *,
    num_layers: int,
    bidirectional: bool,
    lengths: Any = None,
    padding: str = "post",
    initial_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, ReferenceCache]:
    """Run a stacked (bi)directional recurrent layer; see the package docstring for the contract.

    x: (batch, time, input_size); lengths: (batch,) in [0, time] or None;
    initial_state: h0 (layers*directions, batch, state), or (h0, c0) for kind="lstm".
    Returns outputs (batch, time, directions*state), h_n (layers*directions, batch, state),
    c_n (layers*directions, batch, hidden) or None, and the cache for ``backward``.
    """
    cell = validation.check_kind(kind)
    directions = validation.check_structure(num_layers, bidirectional, padding)
    x = validation.check_input(x)
    batch, time, input_size = x.shape
    lengths = validation.check_lengths(lengths, batch, time)
    params, sizes = validation.check_params(cell, params, num_layers, directions, input_size)
    h0, c0 = _initial_states(cell, initial_state, sizes, num_layers * directions, batch, x.dtype)
    layer_input, final_h, final_c, caches = x, [], [], []
    for layer in range(num_layers):
        direction_outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            positions, active = recurrence.processing_order(lengths, time, padding, direction == 1)
            outputs, h_n, c_n, cache = recurrence.run_forward(
                cell,
                _weights(params, sizes, layer, direction),
                layer_input,
                h0[index],
                None if c0 is None else c0[index],
                positions,
                active,
            )
            direction_outputs.append(outputs)
            final_h.append(h_n)
            final_c.append(c_n)
            caches.append(cache)
        layer_input = np.concatenate(direction_outputs, axis=2)
    c_n_all = np.stack(final_c) if cell.has_cell_state else None
    cache = ReferenceCache(cell, params, sizes, num_layers, directions, batch, time, caches)
    return layer_input, np.stack(final_h), c_n_all, cache


def backward(
    cache: ReferenceCache,
    d_outputs: np.ndarray,
    d_h_n: np.ndarray | None = None,
    d_c_n: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Gradients of a loss L given its gradients with respect to what ``forward`` returned.

    d_outputs: (batch, time, directions*state); d_h_n: (layers*directions, batch, state) or
    None (zero); d_c_n: (layers*directions, batch, hidden) or None (zero), LSTM only.
    Returns dL/d(param) under every key of ``params``, plus "x" (batch, time, input_size),
    "h0" (layers*directions, batch, state) and, for the LSTM, "c0".
    """
    cell, sizes, directions = cache.cell, cache.sizes, cache.directions
    d_layer_output, d_h_n, d_c_n = _check_upstream(cache, d_outputs, d_h_n, d_c_n)
    grads: dict[str, np.ndarray] = {}
    d_h0, d_c0 = np.zeros_like(d_h_n), None if d_c_n is None else np.zeros_like(d_c_n)
    for layer in reversed(range(cache.num_layers)):
        d_layer_input = 0.0
        for direction in range(directions):
            index = layer * directions + direction
            state_slice = slice(direction * sizes.state_size, (direction + 1) * sizes.state_size)
            d_x, d_h0[index], d_c, local_grads = recurrence.run_backward(
                cell,
                _weights(cache.params, sizes, layer, direction),
                cache.direction_caches[index],
                d_layer_output[:, :, state_slice],
                d_h_n[index],
                None if d_c_n is None else d_c_n[index],
            )
            if d_c0 is not None:
                d_c0[index] = d_c
            d_layer_input = d_layer_input + d_x
            for name, value in local_grads.items():
                grads[parameter_name(name, layer, direction)] = value
        d_layer_output = d_layer_input
    grads.update({"x": d_layer_output, "h0": d_h0})
    if d_c0 is not None:
        grads["c0"] = d_c0
    return grads


def _weights(
    params: dict[str, np.ndarray], sizes: LayerSizes, layer: int, direction: int
) -> dict[str, np.ndarray]:
    """One direction's parameters under their short names (``weight_ih``, ``bias_hh``, …)."""
    names = local_names(sizes.has_bias, sizes.has_projection)
    return {name: params[parameter_name(name, layer, direction)] for name in names}


def _check_upstream(
    cache: ReferenceCache, d_outputs: Any, d_h_n: Any, d_c_n: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Upstream gradients in the shapes ``forward`` returned; None -> zeros (c: LSTM only)."""
    sizes, count, batch = cache.sizes, cache.num_layers * cache.directions, cache.batch
    out_shape = (batch, cache.time, cache.directions * sizes.state_size)
    layout = "(batch, time, directions*state)"
    d_outputs = validation.check_array("d_outputs", d_outputs, out_shape, layout, np.float64)
    layout = "(layers*directions, batch, state)"
    state_shape = (count, batch, sizes.state_size)
    d_h_n = validation.check_array("d_h_n", d_h_n, state_shape, layout, d_outputs.dtype)
    if not cache.cell.has_cell_state:
        if d_c_n is not None:
            raise ValueError(f"d_c_n must be None for kind={cache.cell.kind!r}, got an array")
        return d_outputs, d_h_n, None
    layout, cell_shape = "(layers*directions, batch, hidden)", (count, batch, sizes.hidden_size)
    d_c_n = validation.check_array("d_c_n", d_c_n, cell_shape, layout, d_outputs.dtype)
    return d_outputs, d_h_n, d_c_n


def _initial_states(
    cell: Cell, initial_state: Any, sizes: LayerSizes, count: int, batch: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray | None]:
    """h0 (count, batch, state) and c0 (count, batch, hidden) or None; zeros when not given."""
    h0, c0 = validation.split_initial_state(cell, initial_state)
    state_shape = (count, batch, sizes.state_size)
    h0 = validation.check_array(
        "initial_state h0", h0, state_shape, "(layers*directions, batch, state)", dtype
    )
    if not cell.has_cell_state:
        return h0, None
    cell_shape = (count, batch, sizes.hidden_size)
    c0 = validation.check_array(
        "initial_state c0", c0, cell_shape, "(layers*directions, batch, hidden)", dtype
    )
    return h0, c0
