"""``--format onnx``: the graph as ONNX (``model.onnx``), for onnxruntime.

Exported with torch's dynamo exporter (``torch.onnx.export(dynamo=True)``, onnxscript),
which translates ``aten.lstm``/``aten.gru`` to ONNX's LSTM/GRU operators and rnnlab's
while_loop RNN (:mod:`rnnlab.export.rnn_ops`) to a Loop. Known traps, each checked by the
tests: the dynamo exporter once dropped GRU's ``linear_before_reset=1`` (onnxscript #2852,
pytorch#189225; fixed in onnxscript 0.7, and every export is validated against PyTorch);
packed sequences do not export (pytorch#49936, #48460), so the graph takes padded ids and
lengths. The legacy TorchScript exporter is not used: it traces with ``torch.jit``, under
which rnnlab's layers do not know they are being exported and could pick the packed path.
"""

from __future__ import annotations

from pathlib import Path

import torch

from rnnlab.export.graphs import ExportGraph
from rnnlab.export.rnn_ops import onnx_translations
from rnnlab.export.torch_export import dynamic_shapes
from rnnlab.export.tracing import tracing_environment

OPSET = 18


def require_onnx() -> None:
    """ImportError naming the extra when onnx, onnxscript or onnxruntime is missing."""
    missing = []
    for name in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(f"--format onnx needs {', '.join(missing)}: pip install "
                          "'rnnlab[onnx]'")


def save_onnx(graph: ExportGraph, inputs: tuple[torch.Tensor, ...], dynamic_time: bool,
              path: Path) -> None:
    """Export ``graph(*inputs)`` to ONNX at ``path`` (weights inside the file), its inputs
    and outputs named as the graph declares them (``INPUTS``, ``OUTPUTS``)."""
    require_onnx()
    with tracing_environment():
        program = torch.onnx.export(
            graph.eval(), tuple(inputs), dynamo=True, opset_version=OPSET,
            input_names=list(graph.INPUTS), output_names=list(graph.OUTPUTS),
            dynamic_shapes=dynamic_shapes(graph.INPUTS, dynamic_time),
            custom_translation_table=onnx_translations(), verbose=False)
        program.save(str(path), external_data=False)


def recurrent_nodes(path: Path) -> list[tuple[str, dict[str, int]]]:
    """``(op_type, integer attributes)`` of every LSTM/GRU/RNN/Loop node in the model."""
    import onnx

    model = onnx.load(str(path))
    found = []
    for node in model.graph.node:
        if node.op_type in ("LSTM", "GRU", "RNN", "Loop"):
            attributes = {a.name: a.i for a in node.attribute
                          if a.type == onnx.AttributeProto.INT}
            found.append((node.op_type, attributes))
    return found
