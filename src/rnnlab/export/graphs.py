"""What gets exported: a trained model behind one signature, ``(ids, lengths) -> outputs``.

    classifier       ids (batch, time), lengths (batch,) -> logits (batch, outputs),
                                                          probabilities (batch, classes)
    language model   ids (batch, time), lengths (batch,) -> logits (batch, time, vocab),
                                                          next_log_probs (batch, vocab)

Which runs export, and with which time axis (:func:`time_axis`):

* cells with a fused torch kernel (lstm, gru, rnn_tanh, rnn_relu) export with batch and time
  dynamic, except an LSTM that reads ``lengths`` (a masked classifier): its final cell state
  is loop-free while tracing (core/directions.py ``_final_cell_state_closed_form``), but the
  exporter still specialises time (a guard ``time - 1 != 1``, source not yet found); such a
  model exports with time fixed to the run's ``maxlen`` (every input is padded to it, as in
  training);
* the LSTM variants (peephole, cifg, layernorm) have no fused kernel and run as a Python loop
  over time: ONNX refuses them (no ONNX operator; the loop would be unrolled to one length);
  torch.export takes a classifier with time fixed to ``maxlen``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.core.padding import lengths_to_mask, post_to_pre, pre_to_post, zero_padding
from rnnlab.models import SequenceClassifier, logits_to_probabilities
from rnnlab.models.language_model import LanguageModel

FUSED_CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu")
CLASSIFIER_OUTPUTS = ("logits", "probabilities")
LM_OUTPUTS = ("logits", "next_log_probs")


class ClassifierGraph(nn.Module):
    """A :class:`SequenceClassifier` with probabilities computed inside the graph."""

    def __init__(self, model: SequenceClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """ids ``(batch, time)``, lengths ``(batch,)`` -> logits ``(batch, outputs)`` and
        probabilities ``(batch, classes)``. An unmasked model reads the padding (as trained)
        and ignores ``lengths``."""
        logits = self.model(ids, lengths)
        return logits, logits_to_probabilities(logits)


class LanguageModelGraph(nn.Module):
    """A :class:`LanguageModel` over padded rows, either padding side.

    The model is causal, so on post-padded rows (real tokens first) the logits at real
    positions never see the padding; pre-padded rows are moved to post padding first and the
    logits moved back, so both sides give the same numbers::

        pre   [_  _  a  b]  ->  [a  b  _  _]  -> LM ->  [la lb 0  0 ]  ->  [0  0  la lb]
    """

    def __init__(self, model: LanguageModel, padding: str) -> None:
        super().__init__()
        self.model = model
        self.padding = padding

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """ids ``(batch, time)``, lengths ``(batch,)`` -> logits ``(batch, time, vocab)``
        (zero at padding) and the log-probabilities of the word after each row's last real
        token ``(batch, vocab)``."""
        if self.padding == "pre":
            ids = pre_to_post(ids, lengths)
        logits = zero_padding(self.model(ids), lengths_to_mask(lengths, ids.shape[1]))
        rows = torch.arange(ids.shape[0], device=ids.device)
        next_log_probs = F.log_softmax(logits[rows, (lengths - 1).clamp(min=0)], dim=-1)
        if self.padding == "pre":
            logits = post_to_pre(logits, lengths)
        return logits, next_log_probs


def time_axis(kind: str, cell: str, masked: bool, maxlen: int | None, model_format: str
              ) -> int | None:
    """None when the graph can take any ``time``; else the fixed ``time`` it is exported with.

    Raises ValueError naming the cell, the format and the reason when the run cannot be
    exported in ``model_format`` (see the module docstring).
    """
    if cell not in FUSED_CELLS:
        if model_format == "onnx":
            raise ValueError(
                f"--format onnx cannot export cell {cell!r}: ONNX has no operator for it, and "
                f"rnnlab runs it as a Python loop over time, which the exporter would unroll "
                f"into a graph of one fixed length; ONNX export supports the cells "
                f"{list(FUSED_CELLS)} (use --format torch-export for a classifier)")
        return _fixed_time(kind, cell, maxlen, "it runs as a Python loop over time")
    if cell == "lstm" and masked:
        return _fixed_time(kind, cell, maxlen, "with lengths, torch.export still specialises "
                                               "its time axis (a guard on time - 1)")
    return None


def _fixed_time(kind: str, cell: str, maxlen: int | None, reason: str) -> int:
    if kind != "classifier" or maxlen is None:
        what = "a language model" if kind != "classifier" else "a run with maxlen=None"
        raise ValueError(
            f"cannot export cell {cell!r} for {what}: {reason}, so the graph needs one fixed "
            f"time, and there is no maxlen to fix it to; train with a fixed --maxlen, or use "
            f"one of the cells {list(FUSED_CELLS)}")
    return maxlen


def padded_batch(lengths: list[int], time: int, vocab_size: int, padding: str,
                 generator: torch.Generator, low: int = 2) -> torch.Tensor:
    """Random ids ``(batch, time)`` in ``[low, vocab_size)`` at real positions, 0 (padding)
    elsewhere, on ``padding``'s side: an export's example and validation input."""
    lengths_t = torch.tensor(lengths, dtype=torch.int64)
    low = min(low, vocab_size - 1)
    ids = torch.randint(low, vocab_size, (len(lengths), time), generator=generator)
    return torch.where(lengths_to_mask(lengths_t, time, padding), ids, 0)


def validation_lengths(time: int, batch: int = 5) -> list[int]:
    """Mixed lengths in ``[1, time]`` including 1 and ``time``: ``time=9`` -> [9, 1, 5, 3, 7]."""
    middle = [max(1, min(time, (time * k) // (batch - 1) + 1)) for k in (2, 1, 3)]
    return ([time, 1, *middle] * batch)[:batch]
