"""rnnlab: correct, fast recurrent layers and a lab to study them.

>>> import rnnlab, torch
>>> lstm = rnnlab.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True)
>>> out = lstm(torch.randn(3, 4, 5), lengths=[4, 2, 0])
>>> tuple(out.last.shape)
(3, 12)

The names below are imported on first use, so tools that only read results (the result
store, the report) start without loading torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_CORE_NAMES = (
    "GRU",
    "LSTM",
    "RNN",
    "CIFGLSTMCell",
    "GRUCell",
    "LSTMCell",
    "LayerNormLSTMCell",
    "PeepholeLSTMCell",
    "RNNCell",
    "Recurrent",
    "RecurrentCell",
    "RecurrentOutput",
    "flip_sequences",
    "flip_time",
    "lengths_to_mask",
)

__all__ = [*_CORE_NAMES, "__version__"]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from rnnlab.core import (  # noqa: F401
        GRU,
        LSTM,
        RNN,
        CIFGLSTMCell,
        GRUCell,
        LayerNormLSTMCell,
        LSTMCell,
        PeepholeLSTMCell,
        Recurrent,
        RecurrentCell,
        RecurrentOutput,
        RNNCell,
        flip_sequences,
        flip_time,
        lengths_to_mask,
    )


def __getattr__(name: str) -> Any:
    if name in _CORE_NAMES:
        value = getattr(importlib.import_module("rnnlab.core"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_CORE_NAMES])
