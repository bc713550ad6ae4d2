"""The fused kernels as autograd functions, one layer and one direction, time-major.

    outputs, h_n = gru(gi, h0, w_hh, b_hh, lengths, rmask)
    outputs, h_n, c_n = lstm_family(kind, gi, h0, c0, w_hh, b_hh, peephole, lengths, rmask)

``gi (time, batch, gates*hidden)`` is the input projection of every step (``x W_ih^T + b_ih``,
computed by the caller with one GEMM, so autograd handles ``W_ih`` and ``x``); ``h0``/``c0``
``(batch, hidden)``; ``lengths (batch,)`` int64 on the CPU or None; ``rmask (batch, hidden)``:
Gal's recurrent dropout mask on ``h_{t-1}`` or None. ``outputs (time, batch, hidden)`` are zero
past each row's length; ``h_n``/``c_n`` are the states after each row's last real step.

The backward passes are hand-written (``csrc/recurrent.cpp``) and first order only. Without a
graph to record (no grad, or nothing requiring it) the forward passes keep no per-step values
(``save=False``): inference allocates only its outputs.
"""

from __future__ import annotations

import torch

LSTM_KINDS = {"lstm": 0, "peephole": 1, "cifg": 2}
# kind "layernorm": layer_norm_lstm() (Ba et al. 2016, as rnnlab.LayerNormLSTMCell).


class _GRU(torch.autograd.Function):
    @staticmethod
    def forward(gi, h0, w_hh, b_hh, lengths, rmask):
        out, h_n, gates, hs = torch.ops.rnnlab.gru_forward(gi, h0, w_hh, b_hh, lengths, rmask)
        return out, h_n.clone(), gates, hs

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, _, w_hh, b_hh, lengths, rmask = inputs
        _, _, gates, hs = output
        ctx.save_for_backward(gates, hs, w_hh, lengths, rmask)
        ctx.has_bias = b_hh is not None
        ctx.mark_non_differentiable(gates, hs)
        # The saved buffers never receive gradients: do not let autograd zero-fill them.
        ctx.set_materialize_grads(False)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_hn, _d_gates, _d_hs):
        gates, hs, w_hh, lengths, rmask = ctx.saved_tensors
        d_out, d_hn = _dense(d_out, gates.shape[:2], hs), _dense(d_hn, hs.shape[1:2], hs)
        d_gi, d_h0, d_w, d_b = torch.ops.rnnlab.gru_backward(
            d_out, d_hn, gates, hs, w_hh, lengths, rmask)
        return d_gi, d_h0, d_w, (d_b if ctx.has_bias else None), None, None


class _LSTMFamily(torch.autograd.Function):
    @staticmethod
    def forward(kind, gi, h0, c0, w_hh, b_hh, peephole, lengths, rmask):
        out, h_n, c_n, gates, tcs, hs, cs = torch.ops.rnnlab.lstm_forward(
            kind, gi, h0, c0, w_hh, b_hh, peephole, lengths, rmask)
        return out, h_n.clone(), c_n.clone(), gates, tcs, hs, cs

    @staticmethod
    def setup_context(ctx, inputs, output):
        kind, _, _, _, w_hh, b_hh, peephole, lengths, rmask = inputs
        _, _, _, gates, tcs, hs, cs = output
        ctx.save_for_backward(gates, tcs, hs, cs, w_hh, peephole, lengths, rmask)
        ctx.kind = kind
        ctx.has_bias = b_hh is not None
        ctx.mark_non_differentiable(gates, tcs, hs, cs)
        ctx.set_materialize_grads(False)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_hn, d_cn, *_saved):
        gates, tcs, hs, cs, w_hh, peephole, lengths, rmask = ctx.saved_tensors
        d_out = _dense(d_out, gates.shape[:2], hs)
        d_hn, d_cn = _dense(d_hn, hs.shape[1:2], hs), _dense(d_cn, hs.shape[1:2], hs)
        d_gi, d_h0, d_c0, d_w, d_b, d_peep = torch.ops.rnnlab.lstm_backward(
            ctx.kind, d_out, d_hn, d_cn, gates, tcs, hs, cs, w_hh, peephole, lengths, rmask)
        return (None, d_gi, d_h0, d_c0, d_w, (d_b if ctx.has_bias else None),
                (d_peep if peephole is not None else None), None, None)


class _LayerNormLSTM(torch.autograd.Function):
    @staticmethod
    def forward(p, h0, c0, w_hh, gamma_ih, shift, gamma_hh, gamma_c, beta_c, eps, lengths,
                rmask):
        out, h_n, c_n, *saved = torch.ops.rnnlab.ln_lstm_forward(
            p, h0, c0, w_hh, gamma_ih, shift, gamma_hh, gamma_c, beta_c, *eps, lengths, rmask)
        return (out, h_n.clone(), c_n.clone(), *saved)

    @staticmethod
    def setup_context(ctx, inputs, output):
        p, _, _, w_hh, gamma_ih, _, gamma_hh, gamma_c, _, _, lengths, rmask = inputs
        saved = output[3:]
        ctx.save_for_backward(p, *saved, w_hh, gamma_ih, gamma_hh, gamma_c, lengths, rmask)
        ctx.mark_non_differentiable(*saved)
        ctx.set_materialize_grads(False)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_hn, d_cn, *_saved):
        (p, gates, xhat_hh, xhat_c, tls, rstd, hs, cs, w_hh, gamma_ih, gamma_hh, gamma_c,
         lengths, rmask) = ctx.saved_tensors
        d_out = _dense(d_out, gates.shape[:2], hs)
        d_hn, d_cn = _dense(d_hn, hs.shape[1:2], hs), _dense(d_cn, hs.shape[1:2], hs)
        d_p, d_h0, d_c0, d_w, d_shift, d_gamma_ih, d_gamma_hh, d_gamma_c, d_beta_c = (
            torch.ops.rnnlab.ln_lstm_backward(d_out, d_hn, d_cn, gates, p, xhat_hh,
                                              xhat_c, tls, rstd, hs, cs, w_hh, gamma_ih,
                                              gamma_hh, gamma_c, lengths, rmask))
        return (d_p, d_h0, d_c0, d_w, d_gamma_ih, d_shift, d_gamma_hh, d_gamma_c, d_beta_c,
                None, None, None)


def _dense(grad: torch.Tensor | None, leading: torch.Size, like: torch.Tensor) -> torch.Tensor:
    """A contiguous gradient; zeros ``(*leading, hidden)`` for an output nobody used."""
    if grad is None:
        return like.new_zeros((*leading, like.shape[-1]))
    return grad.contiguous()


def _needs_graph(*tensors: torch.Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in tensors)


def gru(gi, h0, w_hh, b_hh, lengths, rmask) -> tuple[torch.Tensor, torch.Tensor]:
    """One GRU layer and direction; see the module docstring for shapes."""
    gi, h0, w_hh = gi.contiguous(), h0.contiguous(), w_hh.contiguous()
    if _needs_graph(gi, h0, w_hh, b_hh, rmask):
        out, h_n, _, _ = _GRU.apply(gi, h0, w_hh, b_hh, lengths, rmask)
        return out, h_n
    out, h_n, _, _ = torch.ops.rnnlab.gru_forward(gi, h0, w_hh, b_hh, lengths, rmask,
                                                  save=False)
    return out, h_n


def lstm_family(kind: str, gi, h0, c0, w_hh, b_hh, peephole, lengths, rmask
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One LSTM-family layer and direction (``kind``: lstm, peephole or cifg)."""
    code = LSTM_KINDS[kind]
    gi, h0, c0, w_hh = gi.contiguous(), h0.contiguous(), c0.contiguous(), w_hh.contiguous()
    peephole = None if peephole is None else peephole.contiguous()
    if _needs_graph(gi, h0, c0, w_hh, b_hh, peephole, rmask):
        out, h_n, c_n, *_ = _LSTMFamily.apply(code, gi, h0, c0, w_hh, b_hh, peephole,
                                              lengths, rmask)
        return out, h_n, c_n
    out, h_n, c_n, *_ = torch.ops.rnnlab.lstm_forward(code, gi, h0, c0, w_hh, b_hh, peephole,
                                                      lengths, rmask, save=False)
    return out, h_n, c_n


def layer_norm_lstm(p, h0, c0, w_hh, gamma_ih, shift, gamma_hh, gamma_c, beta_c,
                    eps: tuple[float, float, float], lengths, rmask
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One layer-normalised LSTM layer and direction; ``p (time, batch, 4*hidden)`` holds
    ``x W_ih^T``, both norms of the gate input happen in the kernel.

    ``gamma_ih``/``gamma_hh (4*hidden,)``: the gains of the input and recurrent norms;
    ``shift (4*hidden,)``: everything added to the gate pre-activation (β_ih + b_ih + β_hh +
    b_hh); ``gamma_c``/``beta_c (hidden,)``: the cell-state norm; ``eps``: the three norms'
    epsilons (input, recurrent, cell).
    """
    p, h0, c0, w_hh = p.contiguous(), h0.contiguous(), c0.contiguous(), w_hh.contiguous()
    norms = tuple(t.contiguous() for t in (gamma_ih, shift, gamma_hh, gamma_c, beta_c))
    eps = tuple(float(value) for value in eps)
    if _needs_graph(p, h0, c0, w_hh, *norms, rmask):
        out, h_n, c_n, *_ = _LayerNormLSTM.apply(p, h0, c0, w_hh, *norms, eps, lengths, rmask)
        return out, h_n, c_n
    out, h_n, c_n, *_ = torch.ops.rnnlab.ln_lstm_forward(p, h0, c0, w_hh, *norms, *eps,
                                                         lengths, rmask, save=False)
    return out, h_n, c_n
