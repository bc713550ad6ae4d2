"""Small numeric helpers shared by the reference cells: a stable sigmoid and affine maps.

Every cell computes pre-activations of the form ``x @ W.T + b`` and, in its backward pass,
accumulates ``dW += d_pre.T @ x`` and ``db += sum_batch d_pre``. Those two lines live here so
that each cell module reads as its equations only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def sigmoid(pre: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + e^-a), written as (1 + tanh(a/2)) / 2 so that large |a| never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * pre))


def affine(inputs: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """``inputs @ weight.T + bias``; inputs: (batch, in), weight: (out, in) -> (batch, out)."""
    result = inputs @ weight.T
    return result if bias is None else result + bias


def accumulate_affine_grads(
    grads: dict[str, np.ndarray],
    weight_name: str,
    bias_name: str,
    d_pre: np.ndarray,
    inputs: np.ndarray,
) -> None:
    """Add the gradients of ``affine(inputs, W, b)`` given d_pre = dL/d(output), in place.

    d_pre: (batch, out), inputs: (batch, in). dL/dW = d_pre^T inputs, dL/db = Σ_batch d_pre.
    The bias entry is skipped when the layer has no bias (torch's ``bias=False``).
    """
    grads[weight_name] += d_pre.T @ inputs
    if bias_name in grads:
        grads[bias_name] += d_pre.sum(axis=0)


def bias_of(weights: Mapping[str, np.ndarray], name: str) -> np.ndarray | None:
    """The bias called ``name`` or None when the layer was built with ``bias=False``."""
    return weights.get(name)
