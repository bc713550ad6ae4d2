"""The recurrent dropout family: which units to drop, and how often to draw the mask.

Plain dropout draws a fresh mask at every time step, which on a recurrent state amounts to
noise that compounds over time. The methods here keep the recurrence intact:

================  ===============================  ==========================================
layer argument    what is dropped                  mask
================  ===============================  ==========================================
input_dropout     the layer's input x_t            one per sequence and feature, all steps
layer_dropout     a layer's outputs feeding the    one per sequence and feature, all steps
                  next layer
output_dropout    the top layer's outputs          one per sequence and feature, all steps
recurrent_dropout h_{t-1} where it enters W_hh     one per sequence and unit, all steps
weight_dropout    entries of W_hh (DropConnect)    one per forward pass, shared by the batch
zoneout           units keep their previous value  fresh per step and unit (as the paper)
================  ===============================  ==========================================

Every mask is scaled by ``1 / (1 - p)`` so the expected value is unchanged; in eval mode
all of them are the identity, except zoneout, which the paper evaluates with its expectation
``p·s_{t-1} + (1-p)·s̃_t``. Masks come from torch's global generator (``torch.manual_seed``)
or from ``generator`` where given, so a seeded run draws the same masks every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from rnnlab.core.cells import RecurrentCell


def _check_rate(name: str, p: float) -> float:
    if isinstance(p, bool) or not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1), got {p!r}")
    return float(p)


def bernoulli_mask(
    shape: Sequence[int], p: float, like: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A keep-mask of ``shape``: ``1/(1-p)`` with probability ``1-p``, else 0.

    Drawn as ``uniform >= p``: on CPU ``uniform_`` is 3–4× faster than ``bernoulli_`` (25 ms
    against 6 ms for a 2600 × 650 weight), which is most of weight drop's cost.
    """
    uniform = torch.empty(tuple(shape), dtype=like.dtype, device=like.device)
    keep = uniform.uniform_(generator=generator) >= p
    return keep.to(like.dtype).mul_(1.0 / (1.0 - p))


def locked_dropout(
    x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Locked ("variational") dropout (Gal & Ghahramani 2016, "A Theoretically Grounded
    Application of Dropout in Recurrent Neural Networks"; Merity et al. 2017's LockedDropout).

    ``x: (batch, time, features)``. One mask ``(batch, 1, features)`` per sequence, the same at
    every step: a dropped feature is dropped for the whole sequence.
    """
    if not training or p == 0.0:
        return x
    return x * bernoulli_mask((x.shape[0], 1, x.shape[2]), p, x, generator)


class LockedDropout(nn.Module):
    """:func:`locked_dropout` as a module, for models that drop embeddings or outputs.

    Args:
        p: probability of dropping a feature of a sequence.
        batch_first: ``x`` is ``(batch, time, features)``; else ``(time, batch, features)``.
    """

    def __init__(self, p: float = 0.5, batch_first: bool = True) -> None:
        super().__init__()
        self.p = _check_rate("p", p)
        self.batch_first = batch_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.batch_first:
            return locked_dropout(x, self.p, self.training)
        return locked_dropout(x.transpose(0, 1), self.p, self.training).transpose(0, 1)

    def extra_repr(self) -> str:
        return f"p={self.p}, batch_first={self.batch_first}"


def drop_connect(weight: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Weight drop (DropConnect on ``W_hh``; Wan et al. 2013, Merity et al. 2017 "Regularizing
    and Optimizing LSTM Language Models"): a dropped copy of ``weight`` for one forward pass.

    The stored parameter is untouched; gradients reach it through the kept entries. The same
    dropped matrix serves every step and every sequence of the batch, so the fused kernels
    still run.
    """
    if not training or p == 0.0:
        return weight
    return weight * bernoulli_mask(weight.shape, p, weight)


def zoneout(
    previous: Sequence[torch.Tensor],
    new: Sequence[torch.Tensor],
    rates: Sequence[float],
    training: bool,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, ...]:
    """Zoneout (Krueger et al. 2017, "Zoneout: Regularizing RNNs by Randomly Preserving Hidden
    Activations"): each unit keeps its previous value with probability ``rate``::

        training:  s_t = m ⊙ s_{t-1} + (1 − m) ⊙ s̃_t,   m ~ Bernoulli(rate), fresh each step
        eval:      s_t = rate · s_{t-1} + (1 − rate) · s̃_t

    ``previous``, ``new``: the state parts ``(batch, size)`` before and after a step;
    ``rates``: one rate per part (``(h, c)`` for LSTM cells).
    """
    mixed = []
    for old, fresh, rate in zip(previous, new, rates):
        if rate == 0.0:
            mixed.append(fresh)
        elif training:
            keep_old = torch.empty_like(fresh).uniform_(generator=generator) < rate
            mixed.append(torch.where(keep_old, old, fresh))
        else:
            mixed.append(rate * old + (1.0 - rate) * fresh)
    return tuple(mixed)


@dataclass(frozen=True)
class DropoutSpec:
    """The recurrent dropout family of one layer (see the module docstring); 0 is off."""

    input: float = 0.0       # locked dropout of the layer's input
    between: float = 0.0     # locked dropout between stacked layers
    output: float = 0.0      # locked dropout of the top layer's outputs
    recurrent: float = 0.0   # Gal's dropout of h_{t-1} entering W_hh
    weight: float = 0.0      # DropConnect on W_hh
    zoneout: tuple[float, ...] = (0.0, 0.0)  # zoneout rate of (h, c)

    @classmethod
    def from_layer_args(
        cls,
        *,
        input_dropout: float,
        layer_dropout: float,
        output_dropout: float,
        recurrent_dropout: float,
        weight_dropout: float,
        zoneout: float | Sequence[float],
    ) -> DropoutSpec:
        rates = (zoneout, zoneout) if isinstance(zoneout, (int, float)) else tuple(zoneout)
        if len(rates) != 2:
            raise ValueError(f"zoneout must be a rate or a pair (h_rate, c_rate), got {zoneout!r}")
        return cls(
            input=_check_rate("input_dropout", input_dropout),
            between=_check_rate("layer_dropout", layer_dropout),
            output=_check_rate("output_dropout", output_dropout),
            recurrent=_check_rate("recurrent_dropout", recurrent_dropout),
            weight=_check_rate("weight_dropout", weight_dropout),
            zoneout=tuple(_check_rate("zoneout", rate) for rate in rates),
        )

    def needs_time_loop(self, training: bool) -> bool:
        """Recurrent dropout (in training) and zoneout (always: its eval mode mixes states)
        change every step: no fused kernel can run them."""
        return (training and self.recurrent > 0) or any(rate > 0 for rate in self.zoneout)

    @property
    def active(self) -> bool:
        return any((self.input, self.between, self.output, self.recurrent, self.weight,
                    *self.zoneout))


def check_cells_support(spec: DropoutSpec, cells: Sequence[nn.Module]) -> None:
    """Refuse, at construction, a dropout method that a layer's cells cannot run.

    Recurrent dropout needs :meth:`RecurrentCell.recurrent_input`; weight drop needs the
    weights a cell names in ``recurrent_weights``. Zoneout and the locked dropouts act on
    states and outputs and work with any cell.
    """
    for cell in cells:
        name = type(cell).__name__
        if spec.recurrent and not isinstance(cell, RecurrentCell):
            raise TypeError(f"recurrent_dropout needs cells derived from rnnlab.RecurrentCell "
                            f"(calling self.recurrent_input(h)); {name} is not one")
        if spec.weight:
            names = getattr(cell, "recurrent_weights", ())
            if not isinstance(cell, RecurrentCell) or not names or not all(
                    isinstance(getattr(cell, weight, None), torch.Tensor) for weight in names):
                raise TypeError(
                    f"weight_dropout drops the weights a RecurrentCell names in "
                    f"recurrent_weights ({names or 'none'}); {name} does not have them")
