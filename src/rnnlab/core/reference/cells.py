"""The table of reference cells: which step functions implement each ``kind``.

A cell is two functions with one signature for every kind, so the time loop in
``recurrence.py`` never needs to know which cell it runs::

    step_forward(weights, x, h_prev, c_prev) -> (h, c, step_cache)
    step_backward(weights, step_cache, d_h, d_c, grads) -> (d_x, d_h_prev, d_c_prev)

``weights`` and ``grads`` use the per-layer names of torch without the layer suffix
(``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``, ``weight_hr``); ``c`` is None for
cells without a cell state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from rnnlab.core.reference import gru, lstm, rnn


@dataclass(frozen=True)
class Cell:
    """A reference cell: its gate count (rows of W_ih per hidden unit) and step functions."""

    kind: str
    gates: int  # weight_ih has shape (gates * hidden, input), as in torch
    has_cell_state: bool  # True only for the LSTM (c_n is returned)
    step_forward: Callable[..., tuple[Any, Any, Any]]
    step_backward: Callable[..., tuple[Any, Any, Any]]


CELLS: dict[str, Cell] = {
    "lstm": Cell("lstm", 4, True, lstm.step_forward, lstm.step_backward),
    "gru": Cell("gru", 3, False, gru.step_forward, gru.step_backward),
    "rnn_tanh": Cell(
        "rnn_tanh", 1, False, partial(rnn.step_forward, nonlinearity="tanh"), rnn.step_backward
    ),
    "rnn_relu": Cell(
        "rnn_relu", 1, False, partial(rnn.step_forward, nonlinearity="relu"), rnn.step_backward
    ),
}

KINDS: tuple[str, ...] = tuple(CELLS)
