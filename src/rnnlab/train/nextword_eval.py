"""Scoring seed 000's next-word model per direction: loss, accuracy and perplexity.

Every function reads the softmax inputs and scores the real positions only (see
:func:`rnnlab.train.lm_nextword.direction_targets`), so the adaptive softmax never builds a
``(batch, time, vocab)`` tensor; the full softmax gives the same numbers as scoring its
logits. The definitions are the same for both heads:

* accuracy: the share of scored positions whose most probable word is the target
  (top-1 of the whole distribution, ``log_probs.argmax(-1) == target``);
* perplexity: ``exp`` of the mean negative log-likelihood per scored token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnnlab.models.bidirectional_lm import BidirectionalLM
from rnnlab.train.lm_nextword import NextWordData, direction_targets

DIRECTIONS = ("forward", "backward")


@dataclass(frozen=True)
class DirectionScore:
    """One direction over a split: ``tokens`` scored positions."""

    loss: float  # mean negative log-likelihood per token (nats)
    accuracy: float  # top-1 next-word accuracy
    tokens: int

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss) if self.loss < 700 else math.inf


def scored_rows(
    model: BidirectionalLM, ids: torch.Tensor, lengths: torch.Tensor
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per direction: softmax inputs ``(rows, hidden)`` of the scored positions and their
    targets ``(rows,)``; ids ``(batch, time)``, lengths ``(batch,)``."""
    hidden = model.softmax_inputs(ids, lengths=lengths)
    return {name: (hidden[name][mask], targets[mask])
            for name, (targets, mask) in direction_targets(ids, lengths).items()}


def run_loss(model: BidirectionalLM, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The training loss: sum over directions of the mean NLL of the scored positions (as
    :func:`~rnnlab.train.lm_nextword.next_word_loss`, for either softmax)."""
    loss = None
    for rows, targets in scored_rows(model, ids, lengths).values():
        direction = -model.target_log_probs(rows, targets).mean()
        loss = direction if loss is None else loss + direction
    assert loss is not None
    return loss


@torch.no_grad()
def evaluate_directions(
    model: BidirectionalLM, data: NextWordData, batch_size: int = 64
) -> dict[str, DirectionScore]:
    """Loss, accuracy and token count per direction over every scored position of ``data``,
    in eval mode (the model's mode is restored).

    Texts are batched in order of length, each batch cut to its longest text: the sums do
    not depend on the order (up to float rounding), and sorted batches compute little
    padding (random ones on IMDB 3.6x the real tokens).
    """
    was_training = model.training
    model.eval()
    nll = dict.fromkeys(DIRECTIONS, 0.0)
    correct = dict.fromkeys(DIRECTIONS, 0)
    total = dict.fromkeys(DIRECTIONS, 0)
    by_length = torch.argsort(data.lengths, stable=True)
    try:
        for start in range(0, len(data.ids), batch_size):
            texts = by_length[start : start + batch_size]
            lengths = data.lengths[texts]
            ids = data.ids[texts][:, : int(lengths.max())]
            for name, (rows, targets) in scored_rows(model, ids, lengths).items():
                if not len(targets):
                    continue
                nll[name] -= float(model.target_log_probs(rows, targets).double().sum())
                correct[name] += int((model.predict(rows) == targets).sum())
                total[name] += len(targets)
    finally:
        model.train(was_training)
    return {name: DirectionScore(nll[name] / max(total[name], 1),
                                 correct[name] / max(total[name], 1), total[name])
            for name in DIRECTIONS}
