"""What gets exported: a trained model behind a graph that declares its named inputs.

    classifier       ids (batch, time), lengths (batch,) -> logits (batch, outputs),
                                                          probabilities (batch, classes)
    language model   ids (batch, time), lengths (batch,) -> logits (batch, time, vocab),
                                                          next_log_probs (batch, vocab)
    tagger           word_ids (batch, time), char_ids (batch, time, chars), lengths (batch,)
                                                       -> emissions (batch, time, tags)

Every graph is an :class:`ExportGraph`: ``INPUTS`` names its inputs (the ``forward``
arguments, in order) with their axes, ``OUTPUTS`` its outputs, and ``example_inputs`` makes
a padded batch of given lengths; the exporters, the validation and the bundle read only that.
The axes ``batch`` and ``chars`` are always dynamic, ``time`` unless :func:`time_axis` fixes it.

Which runs export, and with which time axis (:func:`time_axis`):

* cells with a fused torch kernel (lstm, gru, rnn_tanh, rnn_relu) export with batch and time
  dynamic, an LSTM that reads ``lengths`` (a masked classifier) included: its final cell
  state is loop-free while tracing (core/directions.py ``_final_cell_state_closed_form``)
  and built without a ``time - 1`` slice (which made torch guard ``time - 1 != 1`` and fix
  time);
* the LSTM variants (peephole, cifg, layernorm) have no fused kernel and run as a Python loop
  over time: ONNX refuses them (no ONNX operator; the loop would be unrolled to one length);
  torch.export takes a classifier with time fixed to ``maxlen``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.core.padding import lengths_to_mask, post_to_pre, pre_to_post, zero_padding
from rnnlab.models import SequenceClassifier, logits_to_probabilities
from rnnlab.models.language_model import LanguageModel
from rnnlab.models.tagger import Tagger

FUSED_CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu")
CLASSIFIER_OUTPUTS = ("logits", "probabilities")
LM_OUTPUTS = ("logits", "next_log_probs")
TAGGER_OUTPUTS = ("emissions",)
IDS_AND_LENGTHS = {"ids": ("batch", "time"), "lengths": ("batch",)}


class ExportGraph(nn.Module):
    """A model behind the signature an export takes: see the module docstring."""

    INPUTS: ClassVar[dict[str, tuple[str, ...]]] = IDS_AND_LENGTHS  # forward's args -> axes
    OUTPUTS: ClassVar[tuple[str, ...]] = ()
    padding: str = "post"
    vocab_size: int = 2

    def example_inputs(self, lengths: list[int], time: int,
                       generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Random inputs of ``lengths`` padded to ``time``, in the order of ``INPUTS``."""
        ids = padded_batch(lengths, time, self.vocab_size, self.padding, generator)
        return ids, torch.tensor(lengths, dtype=torch.int64)


class ClassifierGraph(ExportGraph):
    """A :class:`SequenceClassifier` with probabilities computed inside the graph.
    ``padding`` is the side inputs are padded on (default: the model's)."""

    OUTPUTS = CLASSIFIER_OUTPUTS

    def __init__(self, model: SequenceClassifier, padding: str | None = None) -> None:
        super().__init__()
        self.model = model
        self.padding = padding or model.config.padding
        self.vocab_size = model.config.vocab_size

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """ids ``(batch, time)``, lengths ``(batch,)`` -> logits ``(batch, outputs)`` and
        probabilities ``(batch, classes)``. An unmasked model reads the padding (as trained)
        and ignores ``lengths``."""
        logits = self.model(ids, lengths)
        return logits, logits_to_probabilities(logits)


class LanguageModelGraph(ExportGraph):
    """A :class:`LanguageModel` over padded rows, either padding side.

    The model is causal, so on post-padded rows (real tokens first) the logits at real
    positions never see the padding; pre-padded rows are moved to post padding first and the
    logits moved back, so both sides give the same numbers::

        pre   [_  _  a  b]  ->  [a  b  _  _]  -> LM ->  [la lb 0  0 ]  ->  [0  0  la lb]
    """

    OUTPUTS = LM_OUTPUTS

    def __init__(self, model: LanguageModel, padding: str) -> None:
        super().__init__()
        self.model = model
        self.padding = padding
        self.vocab_size = model.config.vocab_size

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


class TaggerGraph(ExportGraph):
    """A :class:`Tagger`'s emissions (zero at padding); decoding (the CRF's Viterbi, or a
    per-token argmax) happens outside the graph, in the predictor (rnnlab.serving.viterbi),
    from the CRF's scores in the bundle's crf.json. Inputs are post-padded, as in training::

        word_ids  (batch, time)          [[the, dog, ran], [hi, 0, 0]]     lengths [3, 1]
        char_ids  (batch, time, chars)   [[t h e], [d o g], [r a n]], [[h i 0], [0..], [0..]]
    """

    INPUTS: ClassVar[dict[str, tuple[str, ...]]] = {
        "word_ids": ("batch", "time"), "char_ids": ("batch", "time", "chars"),
        "lengths": ("batch",)}
    OUTPUTS = TAGGER_OUTPUTS

    def __init__(self, model: Tagger) -> None:
        super().__init__()
        self.model = model
        self.vocab_size = model.config.vocab_size
        self.num_chars = model.config.num_chars

    def forward(self, word_ids: torch.Tensor, char_ids: torch.Tensor,
                lengths: torch.Tensor) -> torch.Tensor:
        """word_ids ``(batch, time)``, char_ids ``(batch, time, chars)``, lengths ``(batch,)``
        -> emissions ``(batch, time, tags)``, zero at padding."""
        emissions = self.model(word_ids, char_ids, lengths)
        return zero_padding(emissions, lengths_to_mask(lengths, word_ids.shape[1]))

    def example_inputs(self, lengths: list[int], time: int,
                       generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Words of 1 to ``chars`` characters (``chars = time // 2 + 1``, one word that long),
        all-zero characters at padded positions."""
        word_ids = padded_batch(lengths, time, self.vocab_size, "post", generator)
        chars = time // 2 + 1
        spelled = torch.randint(1, chars + 1, (len(lengths), time), generator=generator)
        spelled[0, 0] = chars
        spelled = torch.where(lengths_to_mask(torch.tensor(lengths), time, "post"), spelled, 0)
        low = min(2, self.num_chars - 1)
        char_ids = torch.randint(low, self.num_chars, (len(lengths), time, chars),
                                 generator=generator)
        char_ids = torch.where(torch.arange(chars) < spelled.unsqueeze(2), char_ids, 0)
        return word_ids, char_ids, torch.tensor(lengths, dtype=torch.int64)


def time_axis(kind: str, cell: str, maxlen: int | None, model_format: str) -> int | None:
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
    return None


def _fixed_time(kind: str, cell: str, maxlen: int | None, reason: str) -> int:
    if kind != "classifier" or maxlen is None:
        what = {"language_model": "a language model", "tagger": "a tagger"}.get(
            kind, "a run with maxlen=None")
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
