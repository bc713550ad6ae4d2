"""Convert one cell's weights between torch's layout and Keras 3's, both ways.

No Keras import: arrays in, arrays out. Keras keeps ``kernel (input, gates*hidden)``,
``recurrent_kernel (hidden, gates*hidden)`` and one bias; torch keeps the transposes and two
biases. Gate orders: LSTM i,f,g,o in both; GRU torch r,z,n vs Keras z,r,h, with Keras's
``reset_after=True`` (its default) holding the input and recurrent biases as ``(2, 3*hidden)``.

>>> import numpy as np
>>> params = {"weight_ih": np.ones((8, 3)), "weight_hh": np.ones((8, 2)),
...           "bias_ih": np.ones(8), "bias_hh": np.ones(8)}
>>> [w.shape for w in torch_to_keras("lstm", params)]
[(3, 8), (2, 8), (8,)]
"""

from __future__ import annotations

import numpy as np

KINDS = ("lstm", "gru", "rnn")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _gru_torch_to_keras_order(rows: np.ndarray) -> np.ndarray:
    """Reorder the first axis of a ``(3*hidden, …)`` block from r,z,n to z,r,h."""
    r, z, n = np.split(rows, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


def _gru_keras_to_torch_order(rows: np.ndarray) -> np.ndarray:
    z, r, n = np.split(rows, 3, axis=0)
    return np.concatenate([r, z, n], axis=0)


def torch_to_keras(kind: str, params: dict[str, np.ndarray]) -> list[np.ndarray]:
    """``{weight_ih, weight_hh, bias_ih, bias_hh}`` (torch) → Keras ``layer.set_weights`` list.

    Works on a single cell's parameters (strip the ``_l0``/``_reverse`` suffix first).
    """
    _check_kind(kind)
    w_ih, w_hh = np.asarray(params["weight_ih"]), np.asarray(params["weight_hh"])
    b_ih = np.asarray(params.get("bias_ih", np.zeros(w_ih.shape[0], w_ih.dtype)))
    b_hh = np.asarray(params.get("bias_hh", np.zeros(w_ih.shape[0], w_ih.dtype)))
    if kind == "gru":
        w_ih, w_hh = _gru_torch_to_keras_order(w_ih), _gru_torch_to_keras_order(w_hh)
        bias = np.stack([_gru_torch_to_keras_order(b_ih), _gru_torch_to_keras_order(b_hh)])
        return [w_ih.T.copy(), w_hh.T.copy(), bias]
    # LSTM and SimpleRNN add the two biases before any nonlinearity, so one Keras bias is exact.
    return [w_ih.T.copy(), w_hh.T.copy(), b_ih + b_hh]


def keras_to_torch(kind: str, weights: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Keras ``layer.get_weights()`` → torch names; the Keras bias goes to ``bias_ih`` and
    ``bias_hh`` is zero for LSTM/RNN (their sum is all that matters)."""
    _check_kind(kind)
    kernel, recurrent, bias = (np.asarray(w) for w in weights)
    if kind == "gru":
        if bias.ndim != 2:
            raise ValueError("GRU weights must come from reset_after=True (bias shape (2, 3h)), "
                             f"got bias shape {bias.shape}")
        return {
            "weight_ih": _gru_keras_to_torch_order(kernel.T).copy(),
            "weight_hh": _gru_keras_to_torch_order(recurrent.T).copy(),
            "bias_ih": _gru_keras_to_torch_order(bias[0]).copy(),
            "bias_hh": _gru_keras_to_torch_order(bias[1]).copy(),
        }
    return {"weight_ih": kernel.T.copy(), "weight_hh": recurrent.T.copy(),
            "bias_ih": bias.copy(), "bias_hh": np.zeros_like(bias)}
