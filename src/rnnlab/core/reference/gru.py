"""One GRU time step, forward and backward (torch.nn.GRU's equations and gate order r, z, n).

Forward, with x: (batch, input) and h: (batch, hidden)::

    [a_r | a_z | a_n] = W_ih x + b_ih          input side,  (batch, 3*hidden)
    [u_r | u_z | u_n] = W_hh h + b_hh          hidden side, (batch, 3*hidden)
    r = σ(a_r + u_r)                                                        (G1)
    z = σ(a_z + u_z)                                                        (G2)
    n = tanh(a_n + r ⊙ u_n)                                                 (G3)
    h' = (1 - z) ⊙ n + z ⊙ h                                                (G4)

The reset gate multiplies the *whole* hidden-side term u_n = W_hn h + b_hn, bias included;
that is torch's (and cuDNN's) variant, not the r ⊙ h inside the matrix product of Cho et al.

Backward, given dh' = dL/dh'::

    dn = dh' ⊙ (1 - z),  dz = dh' ⊙ (h - n),  dh = dh' ⊙ z  (+ the terms below)  from (G4)
    dã_n = dn ⊙ (1 - n²),  dr = dã_n ⊙ u_n,  du_n = dã_n ⊙ r                       from (G3)
    dã_r = dr ⊙ r(1-r),  dã_z = dz ⊙ z(1-z)                                        from (G1, G2)
    input side:  d[a] = [dã_r | dã_z | dã_n]    -> dW_ih += d[a]^T x, dx = d[a] W_ih
    hidden side: d[u] = [dã_r | dã_z | du_n]    -> dW_hh += d[u]^T h, dh += d[u] W_hh

Cho et al. 2014, "Learning Phrase Representations using RNN Encoder-Decoder".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rnnlab.core.reference.ops import accumulate_affine_grads, affine, bias_of, sigmoid


@dataclass(frozen=True)
class GRUStepCache:
    """What one step keeps for its backward pass; every array has a leading batch axis."""

    x: np.ndarray
    h_prev: np.ndarray
    reset_gate: np.ndarray
    update_gate: np.ndarray
    candidate: np.ndarray
    hidden_new_gate_term: np.ndarray  # u_n = W_hn h + b_hn, the term the reset gate scales


def step_forward(
    weights: Mapping[str, np.ndarray],
    x: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray | None = None,
) -> tuple[np.ndarray, None, GRUStepCache]:
    """One step: x (batch, input), h_prev (batch, hidden) -> h (batch, hidden), None, cache.

    ``c_prev`` is accepted (and ignored) so that every cell has the same step signature.
    """
    a_r, a_z, a_n = np.split(affine(x, weights["weight_ih"], bias_of(weights, "bias_ih")), 3, 1)
    u_r, u_z, u_n = np.split(
        affine(h_prev, weights["weight_hh"], bias_of(weights, "bias_hh")), 3, axis=1
    )
    r = sigmoid(a_r + u_r)  # (G1)
    z = sigmoid(a_z + u_z)  # (G2)
    n = np.tanh(a_n + r * u_n)  # (G3)
    h = (1.0 - z) * n + z * h_prev  # (G4)
    return h, None, GRUStepCache(x, h_prev, r, z, n, u_n)


def step_backward(
    weights: Mapping[str, np.ndarray],
    cache: GRUStepCache,
    d_h: np.ndarray,
    d_c: np.ndarray | None,
    grads: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, None]:
    """Back through one step. d_h: (batch, hidden); ``d_c`` is ignored (no cell state).

    Adds parameter gradients into ``grads`` and returns dx (batch, input),
    dh_prev (batch, hidden), None.
    """
    r, z, n = cache.reset_gate, cache.update_gate, cache.candidate
    d_n = d_h * (1.0 - z)  # from (G4)
    d_z = d_h * (cache.h_prev - n)
    d_pre_n = d_n * (1.0 - n * n)  # from (G3)
    d_r = d_pre_n * cache.hidden_new_gate_term
    d_hidden_n = d_pre_n * r
    d_pre_r = d_r * r * (1.0 - r)  # from (G1)
    d_pre_z = d_z * z * (1.0 - z)  # from (G2)
    d_input_side = np.concatenate([d_pre_r, d_pre_z, d_pre_n], axis=1)
    d_hidden_side = np.concatenate([d_pre_r, d_pre_z, d_hidden_n], axis=1)
    accumulate_affine_grads(grads, "weight_ih", "bias_ih", d_input_side, cache.x)
    accumulate_affine_grads(grads, "weight_hh", "bias_hh", d_hidden_side, cache.h_prev)
    d_h_prev = d_h * z + d_hidden_side @ weights["weight_hh"]
    return d_input_side @ weights["weight_ih"], d_h_prev, None
