"""``--format torch-export``: the graph as a ``torch.export`` program (``program.pt2``).

Traced non-strict (rnnlab's layers skip their data-dependent checks while exporting, see
core/padding.py ``is_tracing``), with lengths in the same graph, batch dynamic and time
dynamic unless :func:`~rnnlab.export.graphs.time_axis` fixes it (and a tagger's ``chars``
dynamic). Load it back with ``torch.export.load(path).module()`` and call it with the graph's
inputs in order: ``module(ids, lengths)``, a tagger's ``module(word_ids, char_ids, lengths)``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from rnnlab.export.graphs import ExportGraph
from rnnlab.export.tracing import tracing_environment


def dynamic_shapes(inputs: dict[str, tuple[str, ...]], dynamic_time: bool
                   ) -> dict[str, dict[int, torch.export.Dim]]:
    """One ``Dim`` per axis name, shared by every input that has the axis; ``time`` only
    when ``dynamic_time``. ``{"ids": ("batch", "time"), "lengths": ("batch",)}`` ->
    ``{"ids": {0: batch, 1: time}, "lengths": {0: batch}}``."""
    dims: dict[str, torch.export.Dim] = {}
    shapes = {}
    for name, axes in inputs.items():
        shapes[name] = {index: dims.setdefault(axis, torch.export.Dim(axis))
                        for index, axis in enumerate(axes) if axis != "time" or dynamic_time}
    return shapes


def export_program(graph: ExportGraph, inputs: tuple[torch.Tensor, ...],
                   dynamic_time: bool) -> torch.export.ExportedProgram:
    """Trace ``graph(*inputs)`` into an ExportedProgram (eval mode)."""
    with tracing_environment():
        return torch.export.export(graph.eval(), tuple(inputs),
                                   dynamic_shapes=dynamic_shapes(graph.INPUTS, dynamic_time),
                                   strict=False)


def save_program(graph: ExportGraph, inputs: tuple[torch.Tensor, ...], dynamic_time: bool,
                 path: Path) -> None:
    """Export ``graph`` and write the program to ``path``."""
    program = export_program(graph, inputs, dynamic_time)
    with tracing_environment():
        torch.export.save(program, path)


def load_program(path: Path) -> nn.Module:
    """The callable module of the program at ``path``."""
    with tracing_environment():
        return torch.export.load(path).module()
