"""Embedding dropout: drop whole words, not features (Gal & Ghahramani 2016, section 4;
Merity et al. 2017, "Regularizing and Optimizing LSTM Language Models", section 4.3).

One mask per forward pass over the *vocabulary*: a dropped word's vector is zero wherever it
occurs in the batch, and the kept rows are scaled by ``1 / (1 - p)``::

    weight (vocab, embedding)         mask (vocab, 1)       used for this batch
    the   [ .1  .2  .3 ]              1/(1-p)               [ .1  .2  .3 ] / (1-p)
    cat   [ .4  .5  .6 ]      ×       0               =     [ 0   0   0  ]  every "cat" → 0
    sat   [ .7  .8  .9 ]              1/(1-p)               [ .7  .8  .9 ] / (1-p)

The stored weight is untouched (a tied decoder still reads all of it); gradients reach the
kept rows only. In eval mode it is the plain lookup.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.core.dropout import bernoulli_mask


def embedding_dropout(
    ids: torch.Tensor, embedding: nn.Embedding, p: float, training: bool,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``ids (batch, time)`` → ``(batch, time, embedding)`` through ``embedding`` (weight
    ``(vocab, embedding)``), each vocabulary row dropped with probability ``p`` for the whole
    batch and the kept rows scaled by ``1 / (1 - p)``.

    Off (eval mode or ``p == 0``) it calls ``embedding(ids)`` itself, so forward hooks on the
    module (the leak audit's) see every evaluation lookup."""
    if isinstance(p, bool) or not 0.0 <= p < 1.0:
        raise ValueError(f"embedding_dropout must be in [0, 1), got {p!r}")
    if not training or p == 0.0:
        return embedding(ids)
    weight = embedding.weight
    mask = bernoulli_mask((weight.shape[0], 1), p, weight, generator)  # (vocab, 1)
    return F.embedding(ids, weight * mask)
