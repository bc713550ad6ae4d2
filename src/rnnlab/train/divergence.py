"""Stopping a run whose loss is no longer a number, instead of reporting NaN as a result.

A learning rate far too large (``rnnlab train --lr 1e30``) sends the weights to infinity within
a batch or two; every later loss is NaN and accuracy is chance. Such a run has failed, so the
training loops check each loss as they accumulate it and raise :class:`TrainingDivergedError`
before the epoch is checkpointed: the checkpoint keeps the last epoch whose numbers were
finite, and no NaN reaches ``metrics.json`` or the experiment store.
"""

from __future__ import annotations

import math


class TrainingDivergedError(FloatingPointError):
    """The training or evaluation loss became NaN or infinite."""


def check_finite(value: float, what: str, *, advice: str) -> None:
    """Raise :class:`TrainingDivergedError` naming ``what`` unless ``value`` is finite.

    ``advice`` says which settings to change (``classifier_advice`` / the LM's own).
    """
    if not math.isfinite(value):
        raise TrainingDivergedError(f"training diverged: {what} is {value}; {advice}, and train "
                               "into a new run directory")


def classifier_advice(learning_rate: float, clip: float | None) -> str:
    """What to change in a classifier run (``TrainConfig.lr`` and ``clip_grad_norm``)."""
    clipping = "no gradient clipping" if clip is None else f"gradient norm clipped to {clip:g}"
    return (f"with learning rate {learning_rate:g} and {clipping}, lower the learning rate "
            "(--lr) or clip the gradient norm (--clip)")
