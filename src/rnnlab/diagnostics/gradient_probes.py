"""The probes behind :func:`rnnlab.diagnostics.gradient_flow`: every hidden state of a run.

Within :func:`probed` each recurrent layer of the model runs its time loop (fused kernels
never expose h_t) and every cell step adds a zero leaf tensor to what it returns::

    (h_t, state_t) = step(x_t, state_{t−1});   return (h_t + p_t, state_t + p_t)

so ``∂L/∂p_t`` is ``∂L/∂h_t`` and nothing computed changes. A forward pre-hook adds one more
probe to each layer's input and records its lengths and padding side. The cells, the layers'
hooks and their ``use_fused_kernel`` are restored when the block ends.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from rnnlab.core import padding as pad
from rnnlab.core.layers import Recurrent


def recurrent_layers(model: nn.Module) -> list[tuple[str, Recurrent]]:
    """``(name, layer)`` of every rnnlab recurrent layer in ``model`` ("" for itself)."""
    if isinstance(model, Recurrent):
        return [("", model)]
    return [(name, module) for name, module in model.named_modules()
            if isinstance(module, Recurrent)]


class Call:
    """Probes of one forward call of one recurrent layer."""

    def __init__(self, layer: Recurrent, batch: int, time: int, lengths: torch.Tensor | None,
                 side: pad.Padding, input_probe: torch.Tensor | None) -> None:
        self.layer, self.batch, self.time = layer, batch, time
        self.lengths = (torch.full((batch,), time) if lengths is None else lengths.cpu())
        self.side, self.input_probe = side, input_probe
        self.steps: list[list[list[torch.Tensor]]] = [[] for _ in layer.cells]

    def all_probes(self) -> list[torch.Tensor]:
        probes = [probe for cell in self.steps for step in cell for probe in step]
        return probes if self.input_probe is None else [self.input_probe, *probes]

    def norms_by_lag(self, name: str, grads: dict[int, torch.Tensor | None]
                     ) -> list[tuple[int | None, str | None, str, np.ndarray]]:
        """``(layer, direction, quantity, norms (batch, time) by lag)`` for the input and
        every cell's state parts; ``grads`` maps ``id(probe)`` to its gradient."""
        lengths = self.lengths.numpy().astype(np.int64)
        tables: list[tuple[int | None, str | None, str, np.ndarray]] = []
        if self.input_probe is not None:
            norms = _norms(grads, [self.input_probe], self.layer.batch_first)  # (batch, time)
            last = (np.full_like(lengths, self.time - 1) if self.side is pad.Padding.PRE
                    else lengths - 1)
            tables.append((None, None, "input", _by_lag(norms, last, lengths)))
        for index, steps in enumerate(self.steps):
            if len(steps) != self.time:
                raise RuntimeError(f"cell {index} of {name or 'the layer'} ran {len(steps)} "
                                   f"steps for time={self.time}; gradient_flow expects one "
                                   "step per position (the time loop)")
            layer, direction = divmod(index, self.layer.num_directions)
            for part in range(len(steps[0])):
                stacked = [step[part] for step in steps]
                norms = _norms(grads, stacked, batch_first=True)
                tables.append((layer, ("forward", "backward")[direction],
                               _part_name(part, len(steps[0])),
                               _by_lag(norms, lengths - 1, lengths)))
        return tables


def _part_name(part: int, parts: int) -> str:
    if part == 0:
        return "hidden"
    return "cell" if parts == 2 else f"state{part}"


def _norms(grads: dict[int, torch.Tensor | None], probes: list[torch.Tensor],
           batch_first: bool) -> np.ndarray:
    """``(batch, time)`` L2 norms over features; one probe ``(batch, time, F)`` (or time-major)
    or a list of per-step probes ``(batch, F)``. An unused probe has gradient zero."""
    values = [grads[id(probe)] for probe in probes]
    values = [torch.zeros_like(probe) if value is None else value
              for value, probe in zip(values, probes)]
    if len(values) == 1 and values[0].dim() == 3:
        stacked = values[0] if batch_first else values[0].transpose(0, 1)
    else:
        stacked = torch.stack(values, dim=1)
    return stacked.detach().double().norm(dim=-1).cpu().numpy()


def _by_lag(norms: np.ndarray, last: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``norms (batch, time)`` by position → by lag: lag k of row b is position last_b − k,
    NaN for k ≥ lengths_b."""
    batch, time = norms.shape
    lags = np.arange(time)[None, :]
    positions = last[:, None] - lags
    valid = lags < lengths[:, None]
    picked = norms[np.arange(batch)[:, None], np.clip(positions, 0, time - 1)]
    return np.where(valid, picked, np.nan)


class Tap:
    """Everything recorded for one recurrent module during the measured forward pass."""

    def __init__(self, name: str, layer: Recurrent) -> None:
        self.name, self.layer = name, layer
        self.calls: list[Call] = []
        self.signature = inspect.signature(layer.forward)

    def pre_hook(self, _module, args, kwargs):
        bound = self.signature.bind(*args, **kwargs)
        arguments = bound.arguments
        x = arguments["input"]
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            what = type(x).__name__ if not isinstance(x, torch.Tensor) else f"shape {x.shape}"
            raise ValueError(f"gradient_flow needs padded batched input (batch, time, "
                             f"features) for {self.name or 'the layer'}, got {what}; pass a "
                             "tensor and lengths=, not a PackedSequence or unbatched input")
        batch, time = (x.shape[0], x.shape[1]) if self.layer.batch_first else \
            (x.shape[1], x.shape[0])
        if time < 2:
            raise ValueError(f"gradient_flow needs sequences of time >= 2 steps (lags 0 … "
                             f"T−1 and a fitted decay), got time={time}; give longer input")
        lengths, side = self._lengths(arguments, batch, time, x.device)
        probe = torch.zeros_like(x, requires_grad=True)
        arguments["input"] = x + probe
        self.calls.append(Call(self.layer, batch, time, lengths, side, probe))
        return bound.args, bound.kwargs

    @staticmethod
    def _lengths(arguments, batch, time, device) -> tuple[torch.Tensor | None, pad.Padding]:
        padding = arguments.get("padding")
        side = None if padding is None else pad.Padding.of(padding)
        mask = arguments.get("mask")
        if mask is not None:
            lengths, side = pad.lengths_from_mask(mask, batch=batch, time=time, padding=side)
            return lengths, side or pad.Padding.POST
        lengths = arguments.get("lengths")
        if lengths is not None:
            lengths = pad.as_lengths(lengths, batch=batch, time=time, device=device)
        return lengths, side or pad.Padding.POST

    def step_wrapper(self, index: int, step: Callable) -> Callable:
        def probed_step(x_t, state):
            h_t, new_state = step(x_t, state)
            probes = [torch.zeros_like(part, requires_grad=True) for part in new_state]
            probed = tuple(part + probe for part, probe in zip(new_state, probes))
            h_probed = probed[0] if h_t is new_state[0] else (
                h_t + probes[0] if h_t.shape == probes[0].shape else h_t)
            if not self.calls:
                raise RuntimeError("a cell stepped outside its layer's forward")
            self.calls[-1].steps[index].append(probes)
            return h_probed, probed
        return probed_step


@contextlib.contextmanager
def probed(model: nn.Module) -> Iterator[list[Tap]]:
    """Within the block every recurrent layer of ``model`` runs its time loop with probes."""
    layers = recurrent_layers(model)
    if not layers:
        raise TypeError(f"{type(model).__name__} holds no rnnlab recurrent layer (rnnlab.LSTM, "
                        "GRU, RNN or Recurrent); torch.nn.LSTM's fused kernel hides its "
                        "states: build the model from rnnlab's layers (a drop-in) to measure")
    taps = [Tap(name, layer) for name, layer in layers]
    with contextlib.ExitStack() as stack:
        for tap in taps:
            stack.enter_context(_loop_path(tap.layer))
            handle = tap.layer.register_forward_pre_hook(tap.pre_hook, with_kwargs=True)
            stack.callback(handle.remove)
            for index, cell in enumerate(tap.layer.cells):
                stack.enter_context(_wrapped_step(cell, tap, index))
        yield taps


@contextlib.contextmanager
def _loop_path(layer: Recurrent) -> Iterator[None]:
    previous = layer.use_fused_kernel
    layer.use_fused_kernel = False
    try:
        yield
    finally:
        layer.use_fused_kernel = previous


@contextlib.contextmanager
def _wrapped_step(cell: nn.Module, tap: Tap, index: int) -> Iterator[None]:
    # The time loop calls cell.step if the cell has one, else the cell itself
    # (core/scan.py); an instance attribute shadows the method for this block only.
    own = cell.__dict__.get("step")
    step = cell.step if hasattr(cell, "step") else cell
    object.__setattr__(cell, "step", tap.step_wrapper(index, step))
    try:
        yield
    finally:
        if own is None:
            del cell.__dict__["step"]
        else:
            object.__setattr__(cell, "step", own)
