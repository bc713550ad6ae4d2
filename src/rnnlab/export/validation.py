"""Every export is checked against PyTorch before it counts as done.

The check runs the written file (onnxruntime on ``model.onnx``, or the reloaded
``program.pt2``) and the eager model on batches of mixed lengths that include 1 and the
longest, at the exported time and, when time is dynamic, at a second one::

    lengths (time 9):  [9, 1, 5, 3, 7]      then (time 5):  [5, 1, 3, 2, 4]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnlab.export.graphs import padded_batch, validation_lengths

TOLERANCE = 1e-4  # max |exported - eager| over every output; float32 exports measure ~1e-7
Runner = Callable[[np.ndarray, np.ndarray], list[np.ndarray]]


class ValidationError(ValueError):
    """An exported model whose outputs differ from PyTorch's."""


def onnx_runner(path: Path) -> Runner:
    """Run ``model.onnx`` with onnxruntime (one thread) on ``(ids, lengths)``."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    names = {node.name for node in session.get_inputs()}

    def run(ids: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
        feed = {"ids": ids, "lengths": lengths}
        return session.run(None, {name: value for name, value in feed.items() if name in names})

    return run


def program_runner(module: nn.Module) -> Runner:
    """Run a reloaded ``torch.export`` program on ``(ids, lengths)``."""
    @torch.no_grad()
    def run(ids: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
        outputs = module(torch.from_numpy(ids), torch.from_numpy(lengths))
        return [output.numpy() for output in outputs]

    return run


def check_against_eager(graph: nn.Module, run: Runner, *, times: Sequence[int],
                        vocab_size: int, padding: str, seed: int = 0) -> dict[str, object]:
    """Compare ``run`` with ``graph`` in eval mode; ValidationError past :data:`TOLERANCE`.

    Returns what was checked: ``{"times", "lengths", "max_abs_diff", "tolerance"}``.
    """
    generator = torch.Generator().manual_seed(seed)
    worst, checked = 0.0, []
    for time in times:
        lengths = validation_lengths(time)
        ids = padded_batch(lengths, time, vocab_size, padding, generator)
        lengths_t = torch.tensor(lengths, dtype=torch.int64)
        with torch.no_grad():
            want = [output.numpy() for output in graph.eval()(ids, lengths_t)]
        got = run(ids.numpy(), lengths_t.numpy())
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
