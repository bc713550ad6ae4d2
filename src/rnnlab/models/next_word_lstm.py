"""A plain next-word model, ``ids -> logits`` per position: embedding, rnnlab LSTM, decoder.

    ids (batch, time) ─ embedding ─ LSTM (uni- or bidirectional) ─ linear ─ logits
                                                                   (batch, time, vocab)

Unidirectional it is a causal language model; bidirectional it is the classic mistake of
predicting word t+1 from states that have read it, which the leak audit flags. Both are the
demonstration models of ``rnnlab audit --model`` (:func:`audit_demo_model`), next to seed
000's :class:`~rnnlab.models.bidirectional_lm.BidirectionalLM`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rnnlab.core.layers import LSTM
from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig

__all__ = ["AUDIT_DEMO_MODELS", "NextWordLSTM", "audit_demo_model"]

AUDIT_DEMO_MODELS = ("seed000", "bilstm-lm", "causal-lm")


class NextWordLSTM(nn.Module):
    """Embedding → :class:`rnnlab.LSTM` → linear decoder, one prediction per position.

    ``forward(ids: (batch, time)) -> (batch, time, vocab_size)`` logits.
    """

    def __init__(self, vocab_size: int, size: int = 16, bidirectional: bool = False) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, size)
        self.rnn = LSTM(size, size, batch_first=True, bidirectional=bidirectional)
        self.decoder = nn.Linear(2 * size if bidirectional else size, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.rnn(self.embedding(ids)).output)


def audit_demo_model(name: str, *, leaky: bool = False, seed: int = 0,
                     vocab_size: int = 50) -> tuple[nn.Module, Any]:
    """An untrained demonstration model and the contract its outputs declare.

    Dependencies exist at initialisation already, so an untrained model shows a leak (or
    its absence) as clearly as a trained one. ``leaky`` (seed000 only) rebuilds seed 000's
    ``go_backwards`` bug. The contract is ``"forward"`` or a dict per output.
    """
    if name not in AUDIT_DEMO_MODELS:
        raise ValueError(f"model must be one of {list(AUDIT_DEMO_MODELS)}, got {name!r}")
    if leaky and name != "seed000":
        raise ValueError("leaky only applies to the seed000 model (--leaky with --model "
                         "seed000)")
    torch.manual_seed(seed)
    if name == "seed000":
        config = BidirectionalLMConfig(vocab_size=vocab_size, embedding_size=16,
                                       hidden_size=16, leaky=leaky)
        return BidirectionalLM(config), {"forward": "forward", "backward": "backward"}
    return NextWordLSTM(vocab_size, bidirectional=name == "bilstm-lm"), "forward"
