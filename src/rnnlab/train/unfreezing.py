"""Fine-tuning a pretrained encoder, ULMFiT-style (Howard & Ruder 2018, section 3.2-3.3).

A model with ``layer_groups()`` (top group first: the new classifier, then the pretrained
layers from the top down) is trained with

- discriminative learning rates: group g learns at ``lr / lr_decay**g`` (ULMFiT: 2.6), so
  the layers that hold general knowledge move least;
- gradual unfreezing: epoch 1 trains group 0 only, and every ``unfreeze_every`` epochs the
  next lower group joins, until all train::

      groups (top first)    epoch 1   epoch 2   epoch 3   epoch 4+
      classifier + mix      train     train     train     train      lr
      encoder LSTM2         frozen    train     train     train      lr / 2.6
      encoder LSTM1         frozen    frozen    train     train      lr / 2.6²
      encoder embedding     frozen    frozen    frozen    train      lr / 2.6³

The trainable groups are a function of the epoch alone, so a resumed run sets the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

__all__ = ["FinetuneSchedule", "apply_unfreezing", "optimizer_groups", "trainable_groups"]


@dataclass(frozen=True)
class FinetuneSchedule:
    """ULMFiT's schedule; defaults are the paper's."""

    lr_decay: float = 2.6  # η^(l-1) = η^l / 2.6 (ULMFiT, section 3.2)
    unfreeze_every: int = 1  # epochs between unfreezing steps; 0 = everything from epoch 1

    def __post_init__(self) -> None:
        if not self.lr_decay >= 1.0:
            raise ValueError(f"lr_decay must be >= 1, got {self.lr_decay!r}")
        if isinstance(self.unfreeze_every, bool) or not isinstance(self.unfreeze_every, int) \
                or self.unfreeze_every < 0:
            raise ValueError(f"unfreeze_every must be an int >= 0, got {self.unfreeze_every!r}")


def is_finetuned(model: nn.Module) -> bool:
    """Whether ``model`` trains a pretrained encoder by the schedule (ElmoClassifier with
    ``finetune=True``)."""
    return bool(getattr(model, "finetune", False)) and hasattr(model, "layer_groups")


def optimizer_groups(model: nn.Module, lr: float,
                     schedule: FinetuneSchedule = FinetuneSchedule()) -> list[dict[str, Any]]:
    """Optimizer parameter groups: one per layer group at its discriminative rate, or, for
    a model not fine-tuned by the schedule, every parameter at ``lr`` (one group)."""
    if not is_finetuned(model):
        return [{"params": list(model.parameters()), "lr": lr}]
    return [{"params": params, "lr": lr / schedule.lr_decay ** depth}
            for depth, params in enumerate(model.layer_groups())]  # type: ignore[operator]


def trainable_groups(epoch: int, groups: int, schedule: FinetuneSchedule) -> int:
    """How many groups (from the top) train in ``epoch`` (1-based)."""
    if epoch < 1:
        raise ValueError(f"epoch must be >= 1, got {epoch}")
    if schedule.unfreeze_every == 0:
        return groups
    return min(groups, 1 + (epoch - 1) // schedule.unfreeze_every)


def apply_unfreezing(model: nn.Module, epoch: int,
                     schedule: FinetuneSchedule = FinetuneSchedule()) -> int | None:
    """Set ``requires_grad`` of ``model``'s groups for ``epoch``; returns how many train
    (None, and nothing changed, for a model not fine-tuned by the schedule)."""
    if not is_finetuned(model):
        return None
    groups = model.layer_groups()  # type: ignore[operator]
    count = trainable_groups(epoch, len(groups), schedule)
    for depth, params in enumerate(groups):
        for param in params:
            param.requires_grad_(depth < count)
    return count
