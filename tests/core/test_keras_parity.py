"""Keras 3 (torch backend) as the oracle for go_backwards, masking and Bidirectional.

Seed 000's leak came from a misunderstanding of what Keras's ``go_backwards=True`` returns:
the outputs in *processing* order. These tests pin rnnlab's ``go_backwards`` to Keras 3's own
numbers, with and without a mask, pre and post padding, and check that a Bidirectional layer
(input order) equals rnnlab's ``bidirectional=True``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnlab
from rnnlab.core.keras_weights import keras_to_torch, torch_to_keras
from tests.keras_support import require_keras

keras, pytestmark = require_keras("Keras parity needs KERAS_BACKEND=torch")

BATCH, TIME, INPUT, HIDDEN = 3, 5, 4, 6
LENGTHS = np.array([5, 3, 0])
KINDS = {
    "lstm": (keras.layers.LSTM, rnnlab.LSTM),
    "gru": (keras.layers.GRU, rnnlab.GRU),
    "rnn": (keras.layers.SimpleRNN, rnnlab.RNN),
}


def _cell_params(cell):
    return {k: v.detach().numpy() for k, v in cell.state_dict().items()}


def _to_numpy(value):
    if isinstance(value, torch.Tensor):
        return np.asarray(value.detach().cpu())
    return np.asarray(value)


@pytest.fixture
def x():
    return np.random.default_rng(0).standard_normal((BATCH, TIME, INPUT)).astype("float32")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_go_backwards_matches_keras(kind, masked, padding, zero_output_for_mask, x):
    keras_cls, ours_cls = KINDS[kind]
    ours = ours_cls(INPUT, HIDDEN, batch_first=True, go_backwards=True,
                    zero_output_for_mask=zero_output_for_mask)
    theirs = keras_cls(HIDDEN, return_sequences=True, return_state=True, go_backwards=True,
                       zero_output_for_mask=zero_output_for_mask)
    theirs.build((BATCH, TIME, INPUT))
    theirs.set_weights(torch_to_keras(kind, _cell_params(ours.cells[0])))
    lengths = LENGTHS if masked else None
    mask = None
    if masked:
        mask = rnnlab.lengths_to_mask(torch.as_tensor(lengths), TIME, padding).numpy()
    keras_result = theirs(x, mask=mask)
    ours_result = ours(torch.from_numpy(x), lengths=lengths, padding=padding)
    np.testing.assert_allclose(ours_result.output.detach().numpy(), _to_numpy(keras_result[0]),
                               atol=1e-5, rtol=0)
    np.testing.assert_allclose(ours_result.h_n[0].detach().numpy(), _to_numpy(keras_result[1]),
                               atol=1e-5, rtol=0)
    if kind == "lstm":
        np.testing.assert_allclose(ours_result.c_n[0].detach().numpy(),
                                   _to_numpy(keras_result[2]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("padding", ["post", "pre"])
def test_flipping_go_backwards_output_gives_keras_bidirectional_backward_half(kind, padding, x):
    keras_cls, ours_cls = KINDS[kind]
    forward_layer = ours_cls(INPUT, HIDDEN, batch_first=True)
    backward_layer = ours_cls(INPUT, HIDDEN, batch_first=True, go_backwards=True,
                              zero_output_for_mask=True)
    bidirectional = ours_cls(INPUT, HIDDEN, batch_first=True, bidirectional=True)
    bidirectional.load_state_dict({
        **forward_layer.state_dict(),
        **{k + "_reverse": v for k, v in backward_layer.state_dict().items()},
    })
    theirs = keras.layers.Bidirectional(keras_cls(HIDDEN, return_sequences=True))
    theirs.build((BATCH, TIME, INPUT))
    theirs.forward_layer.set_weights(torch_to_keras(kind, _cell_params(forward_layer.cells[0])))
    theirs.backward_layer.set_weights(torch_to_keras(kind, _cell_params(backward_layer.cells[0])))
    mask = rnnlab.lengths_to_mask(torch.as_tensor(LENGTHS), TIME, padding).numpy()
    expected = _to_numpy(theirs(x, mask=mask))

    ours = bidirectional(torch.from_numpy(x), lengths=LENGTHS, padding=padding)
    np.testing.assert_allclose(ours.output.detach().numpy(), expected, atol=1e-5, rtol=0)
    # The manual route — a go_backwards layer, flipped back — lands on the same numbers.
    flipped = rnnlab.flip_time(
        backward_layer(torch.from_numpy(x), lengths=LENGTHS, padding=padding))
    np.testing.assert_allclose(flipped.detach().numpy(), expected[..., HIDDEN:], atol=1e-5,
                               rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_keras_weights_load_into_rnnlab(kind, x):
    keras_cls, ours_cls = KINDS[kind]
    theirs = keras_cls(HIDDEN, return_sequences=True)
    theirs.build((BATCH, TIME, INPUT))
    ours = ours_cls(INPUT, HIDDEN, batch_first=True)
    weights = keras_to_torch(kind, theirs.get_weights())
    ours.load_state_dict({k + "_l0": torch.from_numpy(v) for k, v in weights.items()})
    np.testing.assert_allclose(ours(torch.from_numpy(x)).output.detach().numpy(),
                               _to_numpy(theirs(x)), atol=1e-5, rtol=0)
