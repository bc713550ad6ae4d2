"""One LSTM time step, forward and backward (torch.nn.LSTM's equations and gate order).

Forward, with x: (batch, input), h: (batch, state), c: (batch, hidden)::

    a = W_ih x + b_ih + W_hh h + b_hh        (batch, 4*hidden), split as [a_i | a_f | a_g | a_o]
    i = σ(a_i)  f = σ(a_f)  g = tanh(a_g)  o = σ(a_o)                               (L1)
    c' = f ⊙ c + i ⊙ g                                                              (L2)
    m  = o ⊙ tanh(c')                                                               (L3)
    h' = W_hr m  with a projection (proj_size > 0, state = proj_size), else h' = m  (L4)

Backward, given dh' (everything that reaches h') and dc' (what reaches c' from step t+1)::

    dW_hr += dh'^T m,  dm = dh' W_hr            (or dm = dh')                       from (L4)
    do = dm ⊙ tanh(c'),  dc'_total = dc' + dm ⊙ o ⊙ (1 - tanh²(c'))                 from (L3)
    di = dc'_total ⊙ g,  dg = dc'_total ⊙ i,  df = dc'_total ⊙ c,  dc = dc'_total ⊙ f  from (L2)
    da = [di ⊙ i(1-i) | df ⊙ f(1-f) | dg ⊙ (1-g²) | do ⊙ o(1-o)]                    from (L1)
    dW_ih += da^T x,  dW_hh += da^T h,  db_ih += Σ da,  db_hh += Σ da,
    dx = da W_ih,  dh = da W_hh

Hochreiter & Schmidhuber 1997 with the forget gate of Gers et al. 2000; the projection is
Sak et al. 2014 (LSTMP), as in torch's ``proj_size``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rnnlab.core.reference.ops import accumulate_affine_grads, affine, bias_of, sigmoid


@dataclass(frozen=True)
class LSTMStepCache:
    """What one step keeps for its backward pass; every array has a leading batch axis."""

    x: np.ndarray
    h_prev: np.ndarray
    c_prev: np.ndarray
    input_gate: np.ndarray
    forget_gate: np.ndarray
    candidate: np.ndarray
    output_gate: np.ndarray
    tanh_c: np.ndarray
    unprojected_h: np.ndarray


def step_forward(
    weights: Mapping[str, np.ndarray],
    x: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, LSTMStepCache]:
    """One step: x (batch, input), h_prev (batch, state), c_prev (batch, hidden).

    Returns h (batch, state), c (batch, hidden) and the step cache.
    """
    assert c_prev is not None, "an LSTM step needs a cell state"
    pre = affine(x, weights["weight_ih"], bias_of(weights, "bias_ih")) + affine(
        h_prev, weights["weight_hh"], bias_of(weights, "bias_hh")
    )
    a_i, a_f, a_g, a_o = np.split(pre, 4, axis=1)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)  # (L1)
    c = f * c_prev + i * g  # (L2)
    tanh_c = np.tanh(c)
    m = o * tanh_c  # (L3)
    h = m @ weights["weight_hr"].T if "weight_hr" in weights else m  # (L4)
    return h, c, LSTMStepCache(x, h_prev, c_prev, i, f, g, o, tanh_c, m)


def step_backward(
    weights: Mapping[str, np.ndarray],
    cache: LSTMStepCache,
    d_h: np.ndarray,
    d_c: np.ndarray | None,
    grads: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Back through one step. d_h: (batch, state), d_c: (batch, hidden).

    Adds parameter gradients into ``grads`` (same keys as ``weights``) and returns
    dx (batch, input), dh_prev (batch, state), dc_prev (batch, hidden).
    """
    assert d_c is not None, "an LSTM step needs the gradient of its cell state"
    if "weight_hr" in weights:  # from (L4)
        grads["weight_hr"] += d_h.T @ cache.unprojected_h
        d_m = d_h @ weights["weight_hr"]
    else:
        d_m = d_h
    i, f, g, o = cache.input_gate, cache.forget_gate, cache.candidate, cache.output_gate
    d_o = d_m * cache.tanh_c  # from (L3)
    d_c_total = d_c + d_m * o * (1.0 - cache.tanh_c**2)
    d_i, d_g, d_f = d_c_total * g, d_c_total * i, d_c_total * cache.c_prev  # from (L2)
    d_c_prev = d_c_total * f
    d_pre = np.concatenate(  # from (L1): σ' = σ(1-σ), tanh' = 1 - tanh²
        [d_i * i * (1.0 - i), d_f * f * (1.0 - f), d_g * (1.0 - g * g), d_o * o * (1.0 - o)],
        axis=1,
    )
    accumulate_affine_grads(grads, "weight_ih", "bias_ih", d_pre, cache.x)
    accumulate_affine_grads(grads, "weight_hh", "bias_hh", d_pre, cache.h_prev)
    return d_pre @ weights["weight_ih"], d_pre @ weights["weight_hh"], d_c_prev
