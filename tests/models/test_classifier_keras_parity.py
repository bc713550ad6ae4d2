"""masked=False is seed 002's Keras model, number for number (Keras 3, torch backend).

The Keras models are transcribed from the seed (Embedding → LSTM/GRU [stacked or
Bidirectional] → last state or AveragePooling1D over every step → Dense, no activation →
Dense(1, sigmoid)), without ``mask_zero``, at tiny sizes; our weights are copied into them
and both read the same pre-padded ids, padding included.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.core.keras_weights import torch_to_keras
from rnnlab.models import ClassifierConfig, SequenceClassifier
from tests.keras_support import require_keras

keras, pytestmark = require_keras("Keras parity needs KERAS_BACKEND=torch")

VOCAB, EMBED, HIDDEN, DENSE, TIME = 50, 5, 6, 7, 9
TINY = {"vocab_size": VOCAB, "embedding_size": EMBED, "hidden_size": HIDDEN, "dense_size": DENSE}


def seed_keras_model(name: str):
    """Seed 002's code for ``name`` (its ``99`` is the input width, TIME here)."""
    _, output_type, cell = name.split("_")
    layer_cls = keras.layers.LSTM if cell.endswith("LSTM") else keras.layers.GRU
    sequences = output_type == "RST"
    inputs = keras.Input(shape=(TIME,))
    x = keras.layers.Embedding(VOCAB, EMBED)(inputs)
    recurrent = []
    if name.startswith("MS") and not cell.startswith("bi"):
        recurrent.append(layer_cls(HIDDEN, return_sequences=True))
        x = recurrent[-1](x)
    if cell.startswith("bi"):
        recurrent.append(keras.layers.Bidirectional(layer_cls(HIDDEN, return_sequences=sequences)))
    else:
        recurrent.append(layer_cls(HIDDEN, return_sequences=sequences))
    x = recurrent[-1](x)
    if sequences:
        x = keras.layers.AveragePooling1D(pool_size=TIME)(x)
    dense = keras.layers.Dense(DENSE)
    output = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(inputs, output(dense(x)))
    return model, recurrent, dense, output


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def copy_weights(ours: SequenceClassifier, model, recurrent, dense, output) -> None:
    kind = "lstm" if ours.config.cell == "lstm" else "gru"
    cells = [torch_to_keras(kind, {k: _numpy(v) for k, v in cell.state_dict().items()})
             for cell in ours.recurrent.cells]
    model.layers[1].set_weights([_numpy(ours.embedding.weight)])
    if ours.config.bidirectional:
        recurrent[0].set_weights(cells[0] + cells[1])  # forward layer, then backward
    else:
        for layer, weights in zip(recurrent, cells, strict=True):
            layer.set_weights(weights)
    for layer, linear in ((dense, ours.dense), (output, ours.output)):
        layer.set_weights([_numpy(linear.weight).T, _numpy(linear.bias)])


@pytest.mark.parametrize(
    "name", ["SS_RSF_LSTM", "SS_RST_GRU", "MS_RST_LSTM", "MS_RSF_biLSTM", "MS_RST_biGRU"])
def test_unmasked_classifier_equals_the_seed_keras_model(name):
    ours = SequenceClassifier(ClassifierConfig.from_arrangement(name, **TINY), seed=0).eval()
    model, recurrent, dense, output = seed_keras_model(name)
    copy_weights(ours, model, recurrent, dense, output)
    ids = np.zeros((3, TIME), dtype="int64")  # pre-padded with 0, as pad_sequences does
    rng = np.random.default_rng(0)
    for row, length in enumerate([TIME, 4, 1]):
        ids[row, TIME - length:] = rng.integers(2, VOCAB, size=length)
    expected = _numpy(model(ids, training=False)).reshape(3, 1)
    with torch.no_grad():
        probabilities = torch.sigmoid(ours(torch.as_tensor(ids)))
    np.testing.assert_allclose(_numpy(probabilities), expected, rtol=1e-5, atol=1e-6)
