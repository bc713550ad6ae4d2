"""``--format torch-export``: the graph as a ``torch.export`` program (``program.pt2``).

Traced non-strict (rnnlab's layers skip their data-dependent checks while exporting, see
core/padding.py ``is_tracing``), with lengths in the same graph, batch dynamic and time
dynamic unless :func:`~rnnlab.export.graphs.time_axis` fixes it. Load it back with
``torch.export.load(path).module()`` and call it as ``module(ids, lengths)``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from rnnlab.export.tracing import tracing_environment


def dynamic_shapes(dynamic_time: bool) -> dict[str, dict[int, torch.export.Dim]]:
    """``ids (batch, time)`` and ``lengths (batch,)``: one batch dimension, time if dynamic."""
    batch = torch.export.Dim("batch")
    ids_axes = {0: batch, 1: torch.export.Dim("time")} if dynamic_time else {0: batch}
    return {"ids": ids_axes, "lengths": {0: batch}}


def export_program(graph: nn.Module, ids: torch.Tensor, lengths: torch.Tensor,
                   dynamic_time: bool) -> torch.export.ExportedProgram:
    """Trace ``graph(ids, lengths)`` into an ExportedProgram (eval mode)."""
    with tracing_environment():
        return torch.export.export(graph.eval(), (ids, lengths),
                                   dynamic_shapes=dynamic_shapes(dynamic_time), strict=False)


def save_program(graph: nn.Module, ids: torch.Tensor, lengths: torch.Tensor,
                 dynamic_time: bool, path: Path) -> None:
    """Export ``graph`` and write the program to ``path``."""
    program = export_program(graph, ids, lengths, dynamic_time)
    with tracing_environment():
        torch.export.save(program, path)


def load_program(path: Path) -> nn.Module:
    """The callable module of the program at ``path``."""
    with tracing_environment():
        return torch.export.load(path).module()
