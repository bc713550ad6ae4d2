"""NT-ASGD: SGD whose iterates are averaged once validation stops improving.

Merity et al. (2017), "Regularizing and Optimizing LSTM Language Models", section 3,
Algorithm 1 (non-monotonically triggered averaged SGD), with their logging interval L of one
epoch. After epoch ``t`` (1-based) with validation score ``v_t`` (lower is better)::

    trigger  if  t − 1 > n  and  v_t > min(v_1 … v_{t−1−n})       n = "nonmono", AWD 5

that is, the score is worse than the best one from more than ``n`` epochs back. From the
next step on, every SGD iterate joins a running mean (Polyak averaging; torch's ASGD with
``t0=0, lambd=0``, which their code switches to), and validation, checkpoints and the final
scores use the mean. The SGD steps themselves do not change. For example::

    n = 2, valid  150  140  135  136  141
    epoch 4: 136 > min(150)      = 150?  no
    epoch 5: 141 > min(150, 140) = 140?  yes: averaging from epoch 6's first step
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn


def should_trigger(earlier: Sequence[float], score: float, nonmono: int) -> bool:
    """Whether ``score`` (this epoch's validation, lower is better) starts the averaging,
    given the scores of the ``earlier`` epochs in order (Algorithm 1's condition)."""
    if nonmono < 0:
        raise ValueError(f"nonmono must be >= 0, got {nonmono}")
    if len(earlier) <= nonmono:
        return False
    return score > min(earlier[: len(earlier) - nonmono])


def trigger_epoch(scores: Sequence[float], nonmono: int) -> int | None:
    """The 1-based epoch whose score triggers the averaging, or None."""
    for epoch in range(1, len(scores) + 1):
        if should_trigger(scores[: epoch - 1], scores[epoch - 1], nonmono):
            return epoch
    return None


class ParameterAverage:
    """The running mean of a model's parameters over the iterates given to :meth:`update`.

    After ``k`` updates with iterates ``w_1 … w_k``: ``mean = (w_1 + … + w_k) / k``, kept as
    ``mean += (w − mean) / k`` (torch's ASGD ``ax`` update). Tied parameters count once.
    """

    def __init__(self, model: nn.Module) -> None:
        self.names = [name for name, _ in model.named_parameters()]
        self.mean = {name: torch.zeros_like(p.detach()) for name, p in model.named_parameters()}
        self.count = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.count += 1
        for name, parameter in model.named_parameters():
            mean = self.mean[name]
            mean.add_(parameter.detach() - mean, alpha=1.0 / self.count)

    @contextlib.contextmanager
    def swapped_in(self, model: nn.Module) -> Iterator[nn.Module]:
        """Within the block ``model`` holds the mean (nothing changes before any update);
        its own weights come back after, bit for bit."""
        if self.count == 0:
            yield model
            return
        saved = {name: p.detach().clone() for name, p in model.named_parameters()}
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                parameter.copy_(self.mean[name])
        try:
            yield model
        finally:
            with torch.no_grad():
                for name, parameter in model.named_parameters():
                    parameter.copy_(saved[name])

    def state_dict(self) -> dict[str, object]:
        return {"count": self.count, "mean": {name: t.clone() for name, t in self.mean.items()}}

    def load_state_dict(self, state: dict[str, object]) -> None:
        mean = state["mean"]
        assert isinstance(mean, dict)
        if sorted(mean) != sorted(self.names):
            raise ValueError(f"the saved average holds {sorted(mean)}, the model {self.names}")
        for name in self.names:
            self.mean[name].copy_(mean[name])
        self.count = int(state["count"])  # type: ignore[arg-type]
