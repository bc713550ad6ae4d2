"""Every export is checked against PyTorch before it counts as done.

The check runs the written file (onnxruntime on ``model.onnx``, or the reloaded
``program.pt2``) and the eager model on batches of mixed lengths that include 1 and the
longest (a tagger's words also of 1 to ``chars`` characters, see ``TaggerGraph``), made by
the graph's own ``example_inputs``, at the exported time and, when time is dynamic, at a
second one::

    lengths (time 9):  [9, 1, 5, 3, 7]      then (time 5):  [5, 1, 3, 2, 4]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from rnnlab.export.graphs import IDS_AND_LENGTHS, ExportGraph, validation_lengths

TOLERANCE = 1e-4  # max |exported - eager| over every output; float32 exports measure ~1e-7
Runner = Callable[..., list[np.ndarray]]  # run(*inputs), in the order of the graph's INPUTS


class ValidationError(ValueError):
    """An exported model whose outputs differ from PyTorch's."""


def onnx_runner(path: Path, input_names: Sequence[str] = tuple(IDS_AND_LENGTHS)) -> Runner:
    """Run ``model.onnx`` with onnxruntime (one thread) on inputs named ``input_names``
    (an input the graph does not read, such as an unmasked classifier's lengths, is dropped
    by the exporter and skipped here)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    names = {node.name for node in session.get_inputs()}

    def run(*inputs: np.ndarray) -> list[np.ndarray]:
        feed = dict(zip(input_names, inputs, strict=True))
        return session.run(None, {name: value for name, value in feed.items() if name in names})

    return run


def program_runner(module: torch.nn.Module) -> Runner:
    """Run a reloaded ``torch.export`` program on its inputs, in order."""
    @torch.no_grad()
    def run(*inputs: np.ndarray) -> list[np.ndarray]:
        outputs = module(*(torch.from_numpy(array) for array in inputs))
        if isinstance(outputs, torch.Tensor):  # a graph with one output (a tagger)
            outputs = (outputs,)
        return [output.numpy() for output in outputs]

    return run


def eager_outputs(graph: ExportGraph, inputs: Sequence[torch.Tensor]) -> list[np.ndarray]:
    """``graph(*inputs)`` in eval mode, as a list of arrays (one per ``graph.OUTPUTS``)."""
    with torch.no_grad():
        outputs = graph.eval()(*inputs)
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs,)
    return [output.numpy() for output in outputs]


def check_against_eager(graph: ExportGraph, run: Runner, *, times: Sequence[int],
                        seed: int = 0) -> dict[str, object]:
    """Compare ``run`` with ``graph`` in eval mode on ``graph.example_inputs`` of mixed
    lengths at each of ``times``; ValidationError past :data:`TOLERANCE`.

    Returns what was checked: ``{"times", "lengths", "max_abs_diff", "tolerance"}``.
    """
    generator = torch.Generator().manual_seed(seed)
    worst, checked = 0.0, []
    for time in times:
        lengths = validation_lengths(time)
        inputs = graph.example_inputs(lengths, time, generator)
        want = eager_outputs(graph, inputs)
        got = run(*(tensor.numpy() for tensor in inputs))
        if len(got) != len(want):
            raise ValidationError(f"the export returns {len(got)} outputs, PyTorch {len(want)}")
        for index, (expected, actual) in enumerate(zip(want, got)):
            if expected.shape != actual.shape:
                raise ValidationError(f"output {index} has shape {actual.shape} in the export, "
                                      f"{expected.shape} in PyTorch (time {time})")
            worst = max(worst, float(np.max(np.abs(expected - actual), initial=0.0)))
        checked.append(lengths)
    if not worst <= TOLERANCE:
        raise ValidationError(
            f"the exported model differs from PyTorch by up to {worst:.3g} (tolerance "
            f"{TOLERANCE:g}) on lengths {checked}; nothing was written")
    return {"times": list(times), "lengths": checked, "max_abs_diff": worst,
            "tolerance": TOLERANCE}
