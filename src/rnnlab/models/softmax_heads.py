"""The output layer of a next-word model: a full softmax, or an adaptive one for big vocabularies.

``full`` is one ``nn.Linear(hidden, vocab)``: every position pays ``hidden × vocab``
multiply-adds, 2.6 M for 20k words at 128 units. ``adaptive`` is
``torch.nn.AdaptiveLogSoftmaxWithLoss`` (Grave et al. 2017, "Efficient softmax approximation
for GPUs"): the ids are split at the ``cutoffs`` into a frequent head and rarer tail clusters.
The head scores the head words plus one entry per cluster; a cluster's words are scored only
for the positions whose target is in it, through a projection ``div_value`` times narrower
per cluster. It is exact, not sampled: ``log p(w) = log p_head(cluster of w) + log p(w |
cluster)``, normalised over the whole vocabulary. Ids must be in frequency order (most
frequent first), as :func:`rnnlab.train.lm_nextword.next_word_vocab` makes them::

    ids    0 ........ 1999 | 2000 ........ 9999 | 10000 ........ 19999
           head (2000 words |  cluster 1: 8000    |  cluster 2: 10000 words,
           + 2 cluster slots)  words, hidden/4    |  hidden/16 units

``DEFAULT_CUTOFFS`` (2,000 and 10,000; the ones below the vocabulary size are kept) are
those of that split; with 20k words and 128 units a position costs about 0.3 M multiply-adds
when its target is in the head, instead of 2.6 M.

Every function takes the layer and softmax inputs ``hidden (..., hidden)``; ``scores`` are
logits (full) or log-probabilities (adaptive), so ``log_softmax(scores)`` is the
log-probability either way and ``argmax`` the prediction.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

SOFTMAX_KINDS = ("full", "adaptive")
DEFAULT_CUTOFFS = (2_000, 10_000)  # Grave et al.'s head of ~2k frequent words, then 8k, rest
DEFAULT_DIV_VALUE = 4.0  # torch's default: cluster i projects to hidden / 4**(i+1) units


def default_cutoffs(vocab_size: int) -> tuple[int, ...]:
    """``DEFAULT_CUTOFFS`` below ``vocab_size``; a small vocabulary gets one cutoff at 1/4.

    >>> default_cutoffs(20_000), default_cutoffs(5_000), default_cutoffs(40)
    ((2000, 10000), (2000,), (10,))
    """
    kept = tuple(cutoff for cutoff in DEFAULT_CUTOFFS if cutoff < vocab_size)
    return kept or (max(1, vocab_size // 4),)


def check_cutoffs(
    cutoffs: Sequence[int], vocab_size: int, hidden_size: int, div_value: float
) -> tuple[int, ...]:
    """``cutoffs`` as a tuple, or a ValueError naming what is wrong and what is allowed."""
    cutoffs = tuple(cutoffs)
    if (not cutoffs or any(not isinstance(c, int) or isinstance(c, bool) for c in cutoffs)
            or list(cutoffs) != sorted(set(cutoffs)) or cutoffs[0] < 1
            or cutoffs[-1] > vocab_size - 1):
        raise ValueError(f"cutoffs (--cutoffs) must be increasing integers in "
                         f"[1, {vocab_size - 1}] for vocab_size={vocab_size}, got "
                         f"{list(cutoffs)}")
    if div_value <= 0:
        raise ValueError(f"div_value must be > 0, got {div_value}")
    narrowest = int(hidden_size // div_value ** len(cutoffs))
    if narrowest < 1:
        raise ValueError(
            f"with hidden_size={hidden_size}, div_value={div_value:g} and {len(cutoffs)} "
            f"cutoff(s) {list(cutoffs)} the last cluster projects to 0 units; use fewer "
            f"cutoffs, a smaller div_value or hidden_size >= {int(div_value ** len(cutoffs))}")
    return cutoffs


def softmax_layer(
    kind: str, hidden_size: int, vocab_size: int, cutoffs: Sequence[int] | None = None,
    div_value: float = DEFAULT_DIV_VALUE,
) -> nn.Module:
    """``nn.Linear`` (``kind="full"``) or ``nn.AdaptiveLogSoftmaxWithLoss`` (``"adaptive"``;
    ``cutoffs`` None: :func:`default_cutoffs`)."""
    if kind == "full":
        return nn.Linear(hidden_size, vocab_size)
    if kind != "adaptive":
        raise ValueError(f"softmax must be one of {list(SOFTMAX_KINDS)}, got {kind!r}")
    chosen = default_cutoffs(vocab_size) if cutoffs is None else cutoffs
    chosen = check_cutoffs(chosen, vocab_size, hidden_size, div_value)
    # A head bias, as the full softmax has: frequent words get their prior without the input.
    return nn.AdaptiveLogSoftmaxWithLoss(hidden_size, vocab_size, list(chosen),
                                         div_value=div_value, head_bias=True)


def _flat(hidden: torch.Tensor) -> torch.Tensor:
    return hidden.reshape(-1, hidden.shape[-1])


def scores(layer: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """``hidden (..., hidden)`` → ``(..., vocab)``: logits (full) or log-probs (adaptive)."""
    if isinstance(layer, nn.AdaptiveLogSoftmaxWithLoss):
        return layer.log_prob(_flat(hidden)).reshape(*hidden.shape[:-1], layer.n_classes)
    return layer(hidden)


def log_probs(layer: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """``hidden (..., hidden)`` → log-probabilities ``(..., vocab)`` (each row sums to 1)."""
    if isinstance(layer, nn.AdaptiveLogSoftmaxWithLoss):
        return scores(layer, hidden)
    return F.log_softmax(layer(hidden), dim=-1)


def target_log_probs(
    layer: nn.Module, hidden: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """``hidden (rows, hidden)``, ``targets (rows,)`` → ``log p(target) (rows,)``.

    The adaptive layer scores only the cluster each target is in: the cheap path training uses.
    """
    if isinstance(layer, nn.AdaptiveLogSoftmaxWithLoss):
        return layer(hidden, targets).output
    return -F.cross_entropy(layer(hidden), targets, reduction="none")


def predict(layer: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """``hidden (rows, hidden)`` → the most probable id ``(rows,)``, exactly
    ``log_probs(...).argmax(-1)`` (the adaptive layer scores a cluster only where the head's
    best entry is that cluster: a word in it cannot beat its cluster's head probability)."""
    if isinstance(layer, nn.AdaptiveLogSoftmaxWithLoss):
        return layer.predict(hidden)
    return layer(hidden).argmax(-1)
