"""rnnlab: correct, fast recurrent layers and a lab to study them.

>>> import rnnlab, torch
>>> lstm = rnnlab.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True)
>>> out = lstm(torch.randn(3, 4, 5), lengths=[4, 2, 0])
>>> tuple(out.last.shape)
(3, 12)

Names are imported on first use, so tools that only read results (the result store, the
report) start without loading torch. Type checkers and IDEs read the same names from the
``TYPE_CHECKING`` block below; tests/test_public_api.py keeps it equal to ``_EXPORTS``.
"""

from typing import TYPE_CHECKING

from rnnlab._lazy import attach

__version__ = "0.1.0"

# Each lazily exported name and the module that defines it.
_EXPORTS = dict.fromkeys(
    (
        "GRU", "LSTM", "RNN", "CIFGLSTMCell", "GRUCell", "LSTMCell", "LayerNormLSTMCell",
        "PeepholeLSTMCell", "RNNCell", "Recurrent", "RecurrentCell", "RecurrentOutput",
        "flip_sequences", "flip_time", "lengths_to_mask", "LockedDropout", "Padding",
    ),
    "rnnlab.core",
)  # fmt: skip
__getattr__, __dir__, _names = attach(__name__, _EXPORTS)
__all__ = [*_names, "__version__"]

if TYPE_CHECKING:
    from rnnlab.core import GRU as GRU
    from rnnlab.core import LSTM as LSTM
    from rnnlab.core import RNN as RNN
    from rnnlab.core import CIFGLSTMCell as CIFGLSTMCell
    from rnnlab.core import GRUCell as GRUCell
    from rnnlab.core import LayerNormLSTMCell as LayerNormLSTMCell
    from rnnlab.core import LockedDropout as LockedDropout
    from rnnlab.core import LSTMCell as LSTMCell
    from rnnlab.core import Padding as Padding
    from rnnlab.core import PeepholeLSTMCell as PeepholeLSTMCell
    from rnnlab.core import Recurrent as Recurrent
    from rnnlab.core import RecurrentCell as RecurrentCell
    from rnnlab.core import RecurrentOutput as RecurrentOutput
    from rnnlab.core import RNNCell as RNNCell
    from rnnlab.core import flip_sequences as flip_sequences
    from rnnlab.core import flip_time as flip_time
    from rnnlab.core import lengths_to_mask as lengths_to_mask
