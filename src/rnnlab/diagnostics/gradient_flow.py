"""Gradient flow over time lags: how much of the loss at the last step reaches k steps back.

For a loss L computed at the last step of each sequence, and k = 0 … T−1::

    hidden  ‖∂L/∂h_{T−1−k}‖    the hidden state k steps before the last one
    cell    ‖∂L/∂c_{T−1−k}‖    the cell state, for cells whose state has a second part (LSTMs)
    input   ‖∂L/∂x_{T−1−k}‖    the recurrent layer's input

one value per sequence, summarised by the median and quartiles over the batch. A tanh RNN
multiplies the gradient by ∂h_t/∂h_{t−1} = diag(1 − h_t²) W_hh at every step, so it shrinks
geometrically once that Jacobian's norm is below 1 (Bengio, Simard & Frasconi 1994; Pascanu,
Mikolov & Bengio 2013); an LSTM's cell state passes it on through diag(f_t), unchanged while
the forget gate is open (Hochreiter & Schmidhuber 1997; Gers et al. 2000). Each curve gets a
decay rate (least-squares slope of ln median against k; ln a for a linear RNN with W_hh = a·I)
and the first lag at which the median falls below ``threshold`` (1e-3) times its value at k=0.

How the states are reached (:mod:`rnnlab.diagnostics.gradient_probes`). Fused kernels never
expose h_t, so the model runs on the time loop (the same numbers, tested in tests/core) and
every cell step is wrapped for the one forward pass, without changing a number::

    (h_t, state_t) = cell.step(x_t, state_{t−1})          the cell's own step
    return (h_t + p_t, state_t + p_t)                      p_t: zeros, a leaf tensor
    ∂L/∂p_t = ∂L/∂h_t                                      through the output and the recurrence

The state is taken as the step hands it on: ∂L/∂h_t holds c_t fixed and ∂L/∂c_t holds h_t
fixed (as BPTT splits it, and as the NumPy reference's dL/dh0 and dL/dc0 do). So the cell
state's k = 0 value is 0 when the loss reads only h: the last c_t reaches no output.

Lags follow each direction's processing order and each sequence's length: sequence b with
L_b real steps has lag k at its step L_b−1−k (for a backward direction that step reads input
position k), and no value (NaN) for k ≥ L_b::

    post padding, L = 3, time 5   steps   0    1    2    _    _
                                  lags    2    1    0   NaN  NaN
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.core.layers import Recurrent
from rnnlab.diagnostics.gradient_probes import probed, recurrent_layers

LossFn = Callable[[Any], torch.Tensor]
THRESHOLD = 1e-3  # "the lag where the norm falls below 1e-3 of its value at k = 0"


@dataclass(frozen=True, eq=False)
class LagCurve:
    """One gradient norm against lag: ``norms (batch, time)``, NaN past a sequence's length.

    ``layer_name`` is the recurrent module's name in the model ("" for the model itself),
    ``layer`` and ``direction`` ("forward"/"backward") the cell in its stack (None for
    ``quantity="input"``), ``quantity`` "hidden", "cell", "state2"… or "input".
    """

    layer_name: str
    layer: int | None
    direction: str | None
    quantity: str
    norms: np.ndarray
    threshold: float = THRESHOLD
    _summary: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def label(self) -> str:
        parts = [self.layer_name or "layer"]
        if self.layer is not None:
            parts.append(f"{self.layer} {self.direction}")
        return " ".join([*parts, self.quantity])

    @property
    def lags(self) -> np.ndarray:
        return np.arange(self.norms.shape[1])

    def _quartiles(self) -> np.ndarray:
        if "quartiles" not in self._summary:
            self._summary["quartiles"] = quartiles(self.norms)
        return self._summary["quartiles"]

    @property
    def lower_quartile(self) -> np.ndarray:
        """``(time,)``: the 25th percentile over the sequences that reach each lag."""
        return self._quartiles()[0]

    @property
    def median(self) -> np.ndarray:
        return self._quartiles()[1]

    @property
    def upper_quartile(self) -> np.ndarray:
        return self._quartiles()[2]

    @property
    def count(self) -> np.ndarray:
        """``(time,)``: sequences long enough to have each lag."""
        return np.sum(~np.isnan(self.norms), axis=0)

    @property
    def decay_rate(self) -> float:
        """Slope of ln(median) against lag, per step (negative: decays); NaN if unfittable."""
        return decay_rate(self.median)

    @property
    def lag_below_threshold(self) -> int | None:
        """First lag whose median is below ``threshold`` × the median at k = 0 (see
        :func:`lag_below`); None: never within the sequence."""
        return lag_below(self.median, self.threshold)

    def to_dict(self) -> dict[str, Any]:
        rate = self.decay_rate
        return {
            "layer_name": self.layer_name, "layer": self.layer, "direction": self.direction,
            "quantity": self.quantity, "label": self.label,
            "decay_rate": rate, "factor_per_step": math.exp(rate) if math.isfinite(rate) else rate,
            "lag_below_threshold": self.lag_below_threshold, "threshold": self.threshold,
            "median": self.median.tolist(), "lower_quartile": self.lower_quartile.tolist(),
            "upper_quartile": self.upper_quartile.tolist(), "count": self.count.tolist(),
        }


@dataclass(frozen=True, eq=False)
class GradientFlow:
    """What :func:`gradient_flow` measured: one :class:`LagCurve` per layer, direction and
    state part, plus the input of each recurrent module; ``loss`` is the summed loss."""

    curves: tuple[LagCurve, ...]
    batch: int
    time: int
    loss: float

    def curve(self, quantity: str = "hidden", layer: int | None = 0,
              direction: str | None = "forward", layer_name: str | None = None) -> LagCurve:
        """The curve of ``quantity`` for one cell (``layer=None`` for ``"input"``); the first
        recurrent module unless ``layer_name`` says which."""
        if quantity == "input":
            layer, direction = None, None
        for curve in self.curves:
            if (curve.quantity, curve.layer, curve.direction) == (quantity, layer, direction) \
                    and layer_name in (None, curve.layer_name):
                return curve
        known = sorted({(c.layer_name, c.layer, c.direction, c.quantity) for c in self.curves},
                       key=str)
        raise KeyError(f"no curve quantity={quantity!r}, layer={layer}, direction="
                       f"{direction!r}, layer_name={layer_name!r}; have {known}")

    def to_dict(self) -> dict[str, Any]:
        return {"batch": self.batch, "time": self.time, "loss": self.loss,
                "curves": [curve.to_dict() for curve in self.curves]}


def quartiles(norms: np.ndarray) -> np.ndarray:
    """``(3, time)``: 25th, 50th and 75th percentiles of ``norms (batch, time)`` per column,
    over its non-NaN entries (NaN where a column has none)."""
    result = np.full((3, norms.shape[1]), np.nan)
    for lag in range(norms.shape[1]):
        values = norms[:, lag][~np.isnan(norms[:, lag])]
        if values.size:
            result[:, lag] = np.percentile(values, [25, 50, 75])
    return result


def decay_rate(median: np.ndarray) -> float:
    """Least-squares slope of ``ln median`` against lag over the lags where it is > 0.

    >>> round(decay_rate(0.5 ** np.arange(6)), 6) == round(math.log(0.5), 6)
    True
    """
    lags = np.arange(len(median))
    usable = np.isfinite(median) & (median > 0)
    if usable.sum() < 2:
        return math.nan
    slope, _ = np.polyfit(lags[usable], np.log(median[usable]), 1)
    return float(slope)


def lag_below(median: np.ndarray, threshold: float = THRESHOLD) -> int | None:
    """First lag with ``median < threshold * reference``; None if there is none.

    The reference is the median at k = 0, or at the first lag where it is positive: the cell
    state an LSTM carries out of its last step reaches no output, so its k = 0 value is 0.

    >>> lag_below(np.array([0.0, 1.0, 0.1, 1e-3, 1e-4]))
    4
    """
    usable = np.flatnonzero(np.isfinite(median) & (median > 0))
    if not usable.size:
        return None
    start = usable[0]
    below = np.flatnonzero(median[start:] < threshold * median[start])
    return int(start + below[0]) if below.size else None


# -- measuring ---------------------------------------------------------------------------------
def gradient_flow(
    model: nn.Module,
    batch: torch.Tensor | Sequence[Any] | Mapping[str, Any],
    *,
    loss: LossFn | None = None,
    threshold: float = THRESHOLD,
    seed: int = 0,
) -> GradientFlow:
    """Gradient norms of the loss at the last step against the states k steps earlier.

    Args:
        model: an rnnlab recurrent layer (:class:`rnnlab.Recurrent` and its subclasses), a
            cell (measured in a one-cell batch-first layer around a copy of it), or any module
            built from such layers (a classifier, a language model). Runs as it is: call
            ``model.eval()`` first to measure without dropout.
        batch: the model's input: a tensor ``x (batch, time, input_size)`` (``batch_first``
            layers and cells) or ids ``(batch, time)``, a tuple of positional arguments
            (``(ids, lengths)``), or a dict of keyword arguments.
        loss: maps the model's output to the per-sequence loss ``(batch,)`` (a scalar is
            taken as their sum). Sequences must not interact (no batch norm) for each norm
            to be that sequence's. Default: :func:`readout_loss`, a fixed random unit
            readout of the output at each sequence's last real step.
        threshold: for :attr:`LagCurve.lag_below_threshold`.
        seed: seeds the default readout.

    Returns:
        A :class:`GradientFlow` with one :class:`LagCurve` per (recurrent module, layer,
        direction, state part) and one ``"input"`` curve per recurrent module.
    """
    if isinstance(model, nn.Module) and not isinstance(model, Recurrent) \
            and hasattr(model, "state_sizes") and not recurrent_layers(model):
        model = _one_cell_layer(model)
    args, kwargs = _as_call(batch)
    loss = loss or readout_loss(seed=seed)
    with probed(model) as taps:
        output = model(*args, **kwargs)
        per_sequence = loss(output)
        calls = [call for tap in taps for call in tap.calls]
        if not calls:
            raise ValueError("the model's forward never called its recurrent layers")
        batch_size = calls[0].batch
        total = _total_loss(per_sequence, batch_size)
        probes = [probe for call in calls for probe in call.all_probes()]
        grads = torch.autograd.grad(total, probes, allow_unused=True)
    found = dict(zip(map(id, probes), grads))
    curves = []
    for tap in taps:
        for number, call in enumerate(tap.calls):
            name = tap.name if len(tap.calls) == 1 else f"{tap.name} (call {number})"
            curves += [LagCurve(name, layer, direction, quantity, norms, threshold)
                       for layer, direction, quantity, norms in call.norms_by_lag(name, found)]
    return GradientFlow(tuple(curves), batch=batch_size, time=calls[0].time,
                        loss=float(total.detach()))


def readout_loss(seed: int = 0) -> LossFn:
    """A loss for models without one: ``u · y_last`` per sequence, with ``u`` a random unit
    vector (seeded, drawn once for the output's width) and ``y_last`` the output at the last
    real step: ``RecurrentOutput.last``, a ``(batch, features)`` tensor, or the last step of
    a ``(batch, time, features)`` tensor. Its gradient at k = 0 is ``u``, of norm 1."""
    drawn: dict[int, torch.Tensor] = {}

    def loss(output: Any) -> torch.Tensor:
        if hasattr(output, "last"):
            last = output.last
        elif isinstance(output, torch.Tensor) and output.dim() in (2, 3):
            last = output if output.dim() == 2 else output[:, -1]
        else:
            raise TypeError(f"the default readout loss needs a RecurrentOutput or a (batch, "
                            f"[time,] features) tensor, got {type(output).__name__}; pass "
                            "loss=<output -> per-sequence loss>")
        width = last.shape[-1]
        if width not in drawn:
            generator = torch.Generator().manual_seed(seed)
            vector = torch.randn(width, generator=generator, dtype=torch.float64)
            drawn[width] = vector / vector.norm()
        return last @ drawn[width].to(last)

    return loss


def _one_cell_layer(cell: nn.Module) -> Recurrent:
    # A layer adopts its cell's parameters; a copy leaves the caller's cell as it was.
    copied = copy.deepcopy(cell)
    return Recurrent(copied.input_size, copied.hidden_size, batch_first=True, cell=copied)


def _as_call(batch: Any) -> tuple[tuple, dict]:
    if isinstance(batch, Mapping):
        return (), dict(batch)
    if isinstance(batch, (tuple, list)):
        return tuple(batch), {}
    return (batch,), {}


def _total_loss(per_sequence: Any, batch: int) -> torch.Tensor:
    if not isinstance(per_sequence, torch.Tensor):
        raise TypeError(f"loss must return a tensor, got {type(per_sequence).__name__}")
    if per_sequence.dim() > 0 and tuple(per_sequence.shape) != (batch,):
        raise ValueError(f"loss must return one value per sequence, shape ({batch},), or a "
                         f"scalar; got shape {tuple(per_sequence.shape)}")
    total = per_sequence.sum()
    if not torch.isfinite(total):
        raise FloatingPointError(f"the loss is {total.item()}: gradient norms of a non-finite "
                                 "loss mean nothing; check the model and the batch")
    if not total.requires_grad:
        raise ValueError("the loss does not depend on the recurrent states (no gradient "
                         "path); does loss use the model's output?")
    return total
