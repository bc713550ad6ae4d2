"""rnnlab: correct, fast recurrent layers and a lab to study them.

>>> import rnnlab, torch
>>> lstm = rnnlab.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True)
>>> out = lstm(torch.randn(3, 4, 5), lengths=[4, 2, 0])
>>> tuple(out.last.shape)
(3, 12)

Names are imported on first use, so tools that only read results (the result store, the
report) start without loading torch.
"""

from rnnlab._lazy import attach

__version__ = "0.1.0"

_CORE = "rnnlab.core"
__getattr__, __dir__, _names = attach(__name__, {
    name: _CORE for name in (
        "GRU", "LSTM", "RNN", "CIFGLSTMCell", "GRUCell", "LSTMCell", "LayerNormLSTMCell",
        "PeepholeLSTMCell", "RNNCell", "Recurrent", "RecurrentCell", "RecurrentOutput",
        "flip_sequences", "flip_time", "lengths_to_mask",
    )
})
__all__ = [*_names, "__version__"]
