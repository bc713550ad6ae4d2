"""The stack composer: layers × directions, and what happens between them.

It owns the one loop over layers and directions (a backward direction reads the real part of
each row reversed, and its outputs are reversed back to input order), dropout between layers
(torch's per-element dropout or locked dropout), locked dropout of the input and the output,
Gal's recurrent masks and weight drop. Running one direction is a runner's job
(:mod:`rnnlab.core.directions`); which runner, the layer decides.

A 2-layer bidirectional stack on post-padded input (lengths [3], time 5)::

    x        x0   x1   x2   _    _        (padding zeroed first: NaN there never spreads)
    layer 0  →f   →f   →f   0    0        forward runner on x
             b←   b←   b←   0    0        backward runner on flip_sequences(x), flipped back
    layer 1  reads [f ⊕ b] at each position, after dropout between layers
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from rnnlab.core import directions
from rnnlab.core.cells import RecurrentCell
from rnnlab.core.directions import DirectionRun, Steps
from rnnlab.core.dropout import DropoutSpec, bernoulli_mask, drop_connect, locked_dropout
from rnnlab.core.fused import run_whole_stack
from rnnlab.core.padding import flip_sequences

StackResult = tuple[torch.Tensor, torch.Tensor,
                    tuple[torch.Tensor, ...] | Callable[[], tuple[torch.Tensor, ...]]]


def weight_drop(
    cells: Sequence[RecurrentCell], p: float, training: bool
) -> contextlib.AbstractContextManager:
    """Within the block every cell reads a dropped copy of its ``recurrent_weights``."""
    stack = contextlib.ExitStack()
    if training and p > 0:
        for cell in cells:
            dropped = {name: drop_connect(getattr(cell, name), p, True)
                       for name in cell.recurrent_weights}
            stack.enter_context(cell.weights_replaced(dropped))
    return stack


def run_stack(
    cells: Sequence[RecurrentCell],
    x: torch.Tensor,
    states: tuple[torch.Tensor, ...],
    steps: Steps,
    *,
    path: str,
    mode: str | None,
    num_layers: int,
    num_directions: int,
    between_dropout: float,
    dropout: DropoutSpec,
    training: bool,
) -> StackResult:
    """Run every layer and direction.

    Args:
        cells: ``layers*directions`` cells, layer-major, forward before backward.
        x: ``(batch, time, input_size)``, post-padded, zero at padding.
        states: ``(h_0,)`` or ``(h_0, c_0)``, each ``(layers*directions, batch, size)``.
        steps: where the real steps are.
        path: "whole" (one fused call for the stack, torch's own), "kernel", "packed",
            "native" (rnnlab's fused kernels), "split" (user cells that define ``update``,
            :mod:`rnnlab.core.split_step`), "loop".
        mode: the fused kernel of the cells (None for the loop).
        between_dropout: torch's per-element dropout between layers (``dropout=``).
        dropout: the recurrent dropout family.

    Returns:
        ``outputs (batch, time, directions*output_size)`` (zero at padding), ``h_n
        (layers*directions, batch, output_size)`` and the other final state parts in the same
        layout, or a function computing them.
    """
    with weight_drop(cells, dropout.weight, training):
        if path == "whole":
            outputs, finals = run_whole_stack(
                mode, cells, locked_dropout(x, dropout.input, training), states,
                num_layers=num_layers, bidirectional=num_directions == 2,
                dropout=between_dropout, training=training)
            return locked_dropout(outputs, dropout.output, training), finals[0], finals[1:]
        return _run_layers(cells, x, states, steps, path=path, mode=mode,
                           num_layers=num_layers, num_directions=num_directions,
                           between_dropout=between_dropout, dropout=dropout, training=training)


def _run_layers(cells, x, states, steps: Steps, *, path, mode, num_layers, num_directions,
                between_dropout, dropout: DropoutSpec, training) -> StackResult:
    layer_input = locked_dropout(x, dropout.input, training)
    runs: list[DirectionRun] = []
    for layer in range(num_layers):
        if layer > 0:
            layer_input = F.dropout(layer_input, between_dropout, training)
            layer_input = locked_dropout(layer_input, dropout.between, training)
        direction_outputs = []
        for direction in range(num_directions):
            index = layer * num_directions + direction
            start = tuple(part[index] for part in states)
            backward = direction == 1
            inputs = flip_sequences(layer_input, steps.lengths) if backward else layer_input
            run = _run_direction(cells[index], inputs, start, steps, path=path, mode=mode,
                                 dropout=dropout, training=training)
            runs.append(run)
            direction_outputs.append(
                flip_sequences(run.outputs, steps.lengths) if backward else run.outputs)
        layer_input = (torch.cat(direction_outputs, dim=-1) if num_directions > 1
                       else direction_outputs[0])
    outputs = locked_dropout(layer_input, dropout.output, training)
    h_n = torch.stack([run.h_n for run in runs])
    if any(callable(run.others) for run in runs):
        def others() -> tuple[torch.Tensor, ...]:
            parts = [run.others() if callable(run.others) else run.others for run in runs]
            return tuple(torch.stack(part) for part in zip(*parts))
        return outputs, h_n, others
    return outputs, h_n, tuple(torch.stack(part) for part in zip(*(run.others for run in runs)))


def _run_direction(cell, inputs, start, steps: Steps, *, path, mode, dropout: DropoutSpec,
                   training) -> DirectionRun:
    if path in ("loop", "native", "split"):
        recurrent_mask = None
        if training and dropout.recurrent > 0:
            recurrent_mask = bernoulli_mask((inputs.shape[0], start[0].shape[-1]),
                                            dropout.recurrent, inputs)
        if path == "native":
            return directions.run_native(cell, inputs, start, steps, training=training,
                                         recurrent_mask=recurrent_mask)
        if path == "split":
            return directions.run_split(cell, inputs, start, steps, training=training,
                                        recurrent_mask=recurrent_mask)
        return directions.run_loop(cell, inputs, start, steps, training=training,
                                   recurrent_mask=recurrent_mask,
                                   zoneout_rates=dropout.zoneout)
    runner = directions.run_packed if path == "packed" else directions.run_kernel
    return runner(mode, cell, inputs, start, steps, training=training)
