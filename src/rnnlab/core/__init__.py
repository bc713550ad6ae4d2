"""The recurrent core: cells, the layers that run them, padding, the output object."""

from rnnlab.core.cell_variants import CIFGLSTMCell, LayerNormLSTMCell, PeepholeLSTMCell
from rnnlab.core.cells import GRUCell, LSTMCell, RecurrentCell, RNNCell
from rnnlab.core.dropout import LockedDropout
from rnnlab.core.layers import GRU, LSTM, RNN, Recurrent
from rnnlab.core.output import RecurrentOutput
from rnnlab.core.padding import Padding, flip_sequences, flip_time, lengths_to_mask

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "CIFGLSTMCell",
    "GRUCell",
    "LSTMCell",
    "LayerNormLSTMCell",
    "LockedDropout",
    "Padding",
    "PeepholeLSTMCell",
    "RNNCell",
    "Recurrent",
    "RecurrentCell",
    "RecurrentOutput",
    "flip_sequences",
    "flip_time",
    "lengths_to_mask",
]
