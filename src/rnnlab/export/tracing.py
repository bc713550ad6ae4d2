"""The environment every export traces in: dynamic-time RNN ops, a clean Dynamo cache, and
the exporters' known, unactionable warnings and log lines kept out of the user's way."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

import torch

from rnnlab.export.rnn_ops import dynamic_time_rnn_ops

# What torch 2.13's exporters warn about on every rnnlab export, none of it actionable by the
# user (and pytest runs with warnings as errors): torch's own while_loop RNN decompositions
# call the deprecated torch._check_is_size; pytree's LeafSpec deprecation comes from torch's
# own copy of an ExportedProgram; the ONNX exporter's dynamic-shape renaming warns when the
# names are already the ones given; Dynamo probes `.grad` of non-leaf tensors (and hides the
# warning with a filter that "-W error" overrides, torch/_dynamo/variables/builder.py).
_EXPORTER_WARNINGS = (
    (UserWarning, r"The .grad attribute of a Tensor that is not a leaf Tensor"),
    (FutureWarning, r".*_check_is_size.*"),
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),
    (UserWarning, r".*_check_is_size.*"),
    (UserWarning, r"# The axis name: .* will not be used, since it shares the same shape"),
)


@contextlib.contextmanager
def tracing_environment() -> Iterator[None]:
    """Dynamic-time RNN ops, the exporters' known warnings silenced, their logs quieted."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._export")]
    levels = [logger.level for logger in loggers]
    # A while_loop body is compiled by Dynamo and cached by its code object; one cached for
    # an earlier export's fake tensors breaks the next export ("Node.meta arg4_1 is missing
    # val field"), so every export starts from an empty cache.
    torch._dynamo.reset()
    with warnings.catch_warnings(), dynamic_time_rnn_ops():
        for category, message in _EXPORTER_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        # "torchvision is not installed. Skipping torchvision::nms"; "Symbol u0 did not appear
        # in the graph that was deserialized" (while_loop step counters, on torch.export.load)
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)
            _forget_dynamic_time_rnn_ops()


def _forget_dynamic_time_rnn_ops() -> None:
    """Leave no trace of the while_loop decompositions in the process: Dynamo caches what it
    compiled with them, so a later ``torch.export`` of the user's own (outside this block)
    would still use them. (The ops' own dispatch caches are cleared by
    :func:`~rnnlab.export.rnn_ops.dynamic_time_rnn_ops`, on the way in and out.)"""
    torch._dynamo.reset()
