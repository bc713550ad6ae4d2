"""rnnlab: correct, fast recurrent layers and a lab to study them.

>>> import rnnlab, torch
>>> lstm = rnnlab.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True)
>>> out = lstm(torch.randn(3, 4, 5), lengths=[4, 2, 0])
>>> tuple(out.last.shape)
(3, 12)
"""

from rnnlab.core import (
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

__version__ = "0.1.0"

__all__ = [
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
    "__version__",
    "flip_sequences",
    "flip_time",
    "lengths_to_mask",
]
