"""One simple (Elman) RNN time step, forward and backward, with tanh or ReLU.

Forward, with x: (batch, input) and h: (batch, hidden), as torch.nn.RNN::

    a  = W_ih x + b_ih + W_hh h + b_hh                                      (R1)
    h' = φ(a),  φ = tanh or relu                                            (R2)

Backward, given dh' = dL/dh'::

    da = dh' ⊙ φ'(a),  tanh' = 1 - h'²,  relu' = [a > 0]                    from (R2)
    dW_ih += da^T x,  dW_hh += da^T h,  db_ih += Σ da,  db_hh += Σ da        from (R1)
    dx = da W_ih,  dh = da W_hh

Repeated multiplication by W_hh^T ⊙ φ' in this last line is why plain RNN gradients vanish
or explode over long lags (Bengio et al. 1994; Pascanu et al. 2013).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rnnlab.core.reference.ops import accumulate_affine_grads, affine, bias_of

NONLINEARITIES = ("tanh", "relu")


@dataclass(frozen=True)
class RNNStepCache:
    """What one step keeps for its backward pass; every array has a leading batch axis."""

    x: np.ndarray
    h_prev: np.ndarray
    activation_slope: np.ndarray  # φ'(a), (batch, hidden)


def step_forward(
    weights: Mapping[str, np.ndarray],
    x: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray | None = None,
    *,
    nonlinearity: str,
) -> tuple[np.ndarray, None, RNNStepCache]:
    """One step: x (batch, input), h_prev (batch, hidden) -> h (batch, hidden), None, cache.

    ``c_prev`` is accepted (and ignored) so that every cell has the same step signature.
    """
    pre = affine(x, weights["weight_ih"], bias_of(weights, "bias_ih")) + affine(
        h_prev, weights["weight_hh"], bias_of(weights, "bias_hh")
    )  # (R1)
    if nonlinearity == "tanh":
        h = np.tanh(pre)  # (R2)
        slope = 1.0 - h * h
    elif nonlinearity == "relu":
        h = np.maximum(pre, 0.0)  # (R2)
        slope = (pre > 0.0).astype(pre.dtype)
    else:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    return h, None, RNNStepCache(x, h_prev, slope)


def step_backward(
    weights: Mapping[str, np.ndarray],
    cache: RNNStepCache,
    d_h: np.ndarray,
    d_c: np.ndarray | None,
    grads: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, None]:
    """Back through one step. d_h: (batch, hidden); ``d_c`` is ignored (no cell state).

    Adds parameter gradients into ``grads`` and returns dx (batch, input),
    dh_prev (batch, hidden), None.
    """
    d_pre = d_h * cache.activation_slope  # from (R2)
    accumulate_affine_grads(grads, "weight_ih", "bias_ih", d_pre, cache.x)  # from (R1)
    accumulate_affine_grads(grads, "weight_hh", "bias_hh", d_pre, cache.h_prev)
    return d_pre @ weights["weight_ih"], d_pre @ weights["weight_hh"], None
