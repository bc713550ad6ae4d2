"""Recurrent ops that keep a dynamic time axis under ``torch.export``, and their ONNX forms.

Under tracing rnnlab's standard cells run torch's own kernels (``aten.lstm``, ``aten.gru``,
``aten.rnn_tanh``, ``aten.rnn_relu``, one call per layer and direction). ``torch.export``
decomposes each into a Python loop over time, which fixes the time axis to the example's
length. torch 2.13 ships ``while_loop`` decompositions for LSTM and GRU (the ones
``torch.onnx.export(dynamo=True)`` enables for dynamic shapes, torch/export/_patches.py); this
module adds the same for the plain RNN, so every standard cell exports with any ``time``::

    aten.rnn_tanh(x (time, batch, in), h0, [w_ih, w_hh, b_ih, b_hh], ...)
      └─ while_loop over t: h = tanh(x_t W_ih^T + b_ih + h W_hh^T + b_hh)   (ONNX: Loop)

It also provides the ONNX translation of ``aten.remainder.Scalar`` for a symbolic divisor:
rnnlab's pre-padding index arithmetic computes ``(position + shift) % time`` and onnxscript
0.7's ``aten_remainder_scalar`` only accepts a Python number there (``int()`` of a symbolic
value fails during translation).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch


def _one_layer_rnn(nonlinearity: Callable[[torch.Tensor], torch.Tensor]) -> Callable:
    """A one-layer, one-direction RNN over ``inp (time, batch, input)`` as a while_loop."""
    from torch._higher_order_ops.while_loop import while_loop

    def layer(inp, hidden, params, has_biases, reverse=False):
        w_ih, w_hh = params[0], params[1]
        b_ih = params[2] if has_biases else None
        b_hh = params[3] if has_biases else None
        projected = torch.nn.functional.linear(inp, w_ih, b_ih)  # (time, batch, hidden)
        projected = projected.flip(0) if reverse else projected
        # while_loop refuses closure inputs that share storage (flattened weights can).
        w_hh = w_hh.clone()
        b_hh = None if b_hh is None else b_hh.clone()
        outputs = torch.empty(projected.size(0), *hidden.shape, dtype=hidden.dtype,
                              device=hidden.device)

        def condition(step, outputs, state):
            return step < projected.size(0)

        def body(step, outputs, state):
            t = step.item()
            torch._check(t >= 0)
            torch._check(t < projected.size(0))
            state = nonlinearity(projected[t] + torch.nn.functional.linear(state, w_hh, b_hh))
            outputs = outputs.clone()
            outputs[t] = state
            return step + 1, outputs, state

        # an op, not a constant: a lifted constant tensor is lost when the ONNX exporter
        # re-runs decompositions on the captured program
        start = hidden.new_zeros((), dtype=torch.int64)
        _, outputs, final = while_loop(condition, body, [start, outputs, hidden])
        return (outputs.flip(0) if reverse else outputs), final

    return layer


def _rnn_impl(nonlinearity: Callable[[torch.Tensor], torch.Tensor]) -> Callable:
    from torch._decomp.decompositions import _rnn_helper, gather_params

    layer = _one_layer_rnn(nonlinearity)

    def impl(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
             batch_first):
        params = gather_params(params, has_biases, False)
        out, finals = _rnn_helper(input, list(hx.unbind(0)), params, has_biases, num_layers,
                                  dropout, train, bidirectional, batch_first, layer)
        return out, torch.stack(finals, 0)

    return impl


def _patched_ops() -> tuple[torch._ops.OpOverload, ...]:
    aten = torch.ops.aten
    return (aten.lstm.input, aten.gru.input, aten.rnn_tanh.input, aten.rnn_relu.input)


def _uncache_dispatch() -> None:
    """Make every patched op look up its kernel again at its next call.

    An OpOverload caches, per dispatch key, the kernel it resolved the first time it was
    dispatched from Python (``OpOverload._dispatch_cache``); ``OpOverload.py_impl`` clears
    that cache, but ``torch.export._patches`` sets ``op.py_kernels[...]`` directly and does
    not. So once anything in the process had traced ``aten.gru`` without the patch (a plain
    ``torch.export.export`` of a GRU: AutogradCPU -> torch's C++ decomposition, a loop over
    time), the while_loop kernel was never reached and the export fixed time to the
    example's length.
    """
    for op in _patched_ops():
        op._dispatch_cache.clear()


@contextlib.contextmanager
def dynamic_time_rnn_ops() -> Iterator[None]:
    """Within the block, ``torch.export`` keeps the time axis of every torch RNN op dynamic.

    Uses torch's private ``torch.export._patches`` (torch 2.13); a torch without it gets a
    clear error instead of a graph silently fixed to one length. The ops' dispatch caches are
    cleared on the way in and on the way out (:func:`_uncache_dispatch`), so neither what was
    traced before the block nor the block itself changes what the other one runs.
    """
    try:
        from torch.export import _patches
    except ImportError as error:  # pragma: no cover - depends on the installed torch
        raise RuntimeError(
            f"torch {torch.__version__} lacks torch.export._patches (while_loop RNN "
            "decompositions); rnnlab export needs torch >= 2.13") from error
    with contextlib.ExitStack() as stack:
        stack.callback(_uncache_dispatch)  # last on the way out: after every op is restored
        stack.enter_context(_patches.register_lstm_while_loop_decomposition())
        stack.enter_context(_patches.register_gru_while_loop_decomposition())
        for op, nonlinearity in ((torch.ops.aten.rnn_tanh.input, torch.tanh),
                                 (torch.ops.aten.rnn_relu.input, torch.relu)):
            stack.enter_context(
                _patches._register_rnn_while_loop_decomposition(op, _rnn_impl(nonlinearity)))
        _uncache_dispatch()
        yield


def onnx_translations() -> dict[Any, Callable]:
    """Extra ``custom_translation_table`` entries for ``torch.onnx.export(dynamo=True)``."""
    return {torch.ops.aten.remainder.Scalar: _remainder_scalar}


def _remainder_scalar(self, other):
    """``aten.remainder.Scalar`` (Python's sign-of-divisor ``%``) with ``other`` a number or a
    symbolic int (an ONNX value, e.g. the dynamic ``time``)."""
    from onnxscript import ir
    from onnxscript import opset18 as op

    if isinstance(other, (int, float)):
        other = op.Constant(value=ir.tensor(other, dtype=self.dtype))
    else:
        other = op.CastLike(other, self)
    if self.dtype.is_integer():
        return op.Mod(self, other)  # fmod=0: the sign of the divisor, as Python and torch
    return op.Sub(self, op.Mul(op.Floor(op.Div(self, other)), other))

