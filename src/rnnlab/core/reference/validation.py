"""Argument checks for the reference ``forward``/``backward``.

Each error names the argument, the value received and what is allowed, e.g.
``ValueError("lengths must be in [0, 4] for time=4, got max 7")``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnlab.core.reference.cells import CELLS, Cell

PADDINGS = ("post", "pre")


@dataclass(frozen=True)
class LayerSizes:
    """Sizes read off a parameter dict (torch's naming)."""

    input_size: int  # features of x
    hidden_size: int  # units per direction (size of c, and of h without projection)
    state_size: int  # size of h: proj_size for a projected LSTM, else hidden_size
    has_bias: bool  # False for torch's bias=False (no bias_* keys)
    has_projection: bool  # True when weight_hr_l* keys are present (LSTM proj_size > 0)


def parameter_name(local_name: str, layer: int, direction: int) -> str:
    """torch's name, e.g. ("weight_hh", 1, 1) -> "weight_hh_l1_reverse"."""
    return f"{local_name}_l{layer}" + ("_reverse" if direction == 1 else "")


def local_names(has_bias: bool, has_projection: bool) -> tuple[str, ...]:
    """The per-layer, per-direction parameter names without the ``_l{k}`` suffix."""
    names = ("weight_ih", "weight_hh")
    names += ("bias_ih", "bias_hh") if has_bias else ()
    return names + (("weight_hr",) if has_projection else ())


def check_kind(kind: str) -> Cell:
    if kind not in CELLS:
        raise ValueError(f"kind must be one of {tuple(CELLS)}, got {kind!r}")
    return CELLS[kind]


def check_structure(num_layers: int, bidirectional: bool, padding: str) -> int:
    """Validate the layer structure; returns the number of directions (1 or 2)."""
    if isinstance(num_layers, bool) or not isinstance(num_layers, int | np.integer):
        raise TypeError(f"num_layers must be an int >= 1, got {num_layers!r}")
    if num_layers < 1:
        raise ValueError(f"num_layers must be an int >= 1, got {num_layers}")
    if not isinstance(bidirectional, bool | np.bool_):
        raise TypeError(f"bidirectional must be True or False, got {bidirectional!r}")
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    return 2 if bidirectional else 1


def check_input(x: Any) -> np.ndarray:
    """x must be a floating array (batch, time, features)."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, time, input_size), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must have a floating dtype, got {x.dtype}")
    return x


def check_lengths(lengths: Any, batch: int, time: int) -> np.ndarray:
    """lengths: None (every row full) or (batch,) integers in [0, time] -> int64 array."""
    if lengths is None:
        return np.full(batch, time, dtype=np.int64)
    values = np.asarray(lengths)
    if values.shape != (batch,):
        raise ValueError(f"lengths must have shape (batch,) = ({batch},), got {values.shape}")
    numeric = values.dtype != bool and np.issubdtype(values.dtype, np.number)
    if not numeric or np.any(values != np.round(values)):
        raise TypeError(f"lengths must hold integers, got {values.tolist()}")
    values = values.astype(np.int64)
    if values.size and (values.min() < 0 or values.max() > time):
        raise ValueError(
            f"lengths must be in [0, {time}] for time={time}, "
            f"got min {values.min()} and max {values.max()}"
        )
    return values


def check_params(
    cell: Cell, params: Mapping[str, Any], num_layers: int, directions: int, input_size: int
) -> tuple[dict[str, np.ndarray], LayerSizes]:
    """Check names and shapes against torch's layout; returns arrays and the sizes."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of names to arrays, got {type(params)}")
    sizes = _infer_sizes(cell, params, input_size)
    expected = _expected_shapes(cell, sizes, num_layers, directions)
    missing = sorted(set(expected) - set(params))
    unexpected = sorted(set(params) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"params for kind={cell.kind!r}, num_layers={num_layers}, "
            f"bidirectional={directions == 2} must have keys {sorted(expected)}; "
            f"missing {missing}, unexpected {unexpected}"
        )
    arrays = {name: np.asarray(params[name]) for name in expected}
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise ValueError(
                f"params[{name!r}] must have shape {shape} for input_size={input_size}, "
                f"hidden_size={sizes.hidden_size}, state size={sizes.state_size}; "
                f"got {arrays[name].shape}"
            )
    return arrays, sizes


def _infer_sizes(cell: Cell, params: Mapping[str, Any], input_size: int) -> LayerSizes:
    if "weight_hh_l0" not in params:
        raise ValueError(f"params must contain 'weight_hh_l0', got keys {sorted(params)}")
    weight_hh = np.asarray(params["weight_hh_l0"])
    if weight_hh.ndim != 2 or weight_hh.shape[0] % cell.gates or weight_hh.shape[0] == 0:
        raise ValueError(
            f"params['weight_hh_l0'] must have shape ({cell.gates} * hidden_size, state size) "
            f"for kind={cell.kind!r}, got {weight_hh.shape}"
        )
    hidden = weight_hh.shape[0] // cell.gates
    has_projection = cell.has_cell_state and "weight_hr_l0" in params
    state = np.asarray(params["weight_hr_l0"]).shape[0] if has_projection else hidden
    if weight_hh.shape[1] != state:
        raise ValueError(
            f"params['weight_hh_l0'] must have shape ({cell.gates} * hidden_size, "
            f"{'proj_size' if has_projection else 'hidden_size'}) for kind={cell.kind!r}, "
            f"got {weight_hh.shape}; are these the parameters of another kind of layer?"
        )
    return LayerSizes(input_size, hidden, state, "bias_ih_l0" in params, has_projection)


def _expected_shapes(
    cell: Cell, sizes: LayerSizes, num_layers: int, directions: int
) -> dict[str, tuple[int, ...]]:
    rows = cell.gates * sizes.hidden_size
    shapes = {}
    for layer in range(num_layers):
        layer_input = sizes.input_size if layer == 0 else directions * sizes.state_size
        local = {
            "weight_ih": (rows, layer_input),
            "weight_hh": (rows, sizes.state_size),
            "bias_ih": (rows,),
            "bias_hh": (rows,),
            "weight_hr": (sizes.state_size, sizes.hidden_size),
        }
        for direction in range(directions):
            for name in local_names(sizes.has_bias, sizes.has_projection):
                shapes[parameter_name(name, layer, direction)] = local[name]
    return shapes


def check_array(
    name: str, value: Any, shape: tuple[int, ...], layout: str, dtype: np.dtype
) -> np.ndarray:
    """An optional state or gradient: None -> zeros, else an array of exactly ``shape``.

    ``layout`` names the axes for the error message, e.g. "(layers*directions, batch, hidden)".
    """
    if value is None:
        return np.zeros(shape, dtype=dtype)
    array = np.asarray(value)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {layout} = {shape}, got {array.shape}")
    return array


def split_initial_state(cell: Cell, initial_state: Any) -> tuple[Any, Any]:
    """torch's convention: (h0, c0) for the LSTM, h0 alone for the others; None -> zeros."""
    if initial_state is None:
        return None, None
    if not cell.has_cell_state:
        return initial_state, None
    if not isinstance(initial_state, tuple | list) or len(initial_state) != 2:
        raise ValueError(
            f"initial_state for kind='lstm' must be a pair (h0, c0), got {type(initial_state)}"
        )
    return initial_state[0], initial_state[1]
