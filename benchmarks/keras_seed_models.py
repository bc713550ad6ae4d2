"""Seed 002's Keras code for its 12 arrangements, transcribed as the seed wrote it, and a timer.

The seed shows four arrangements in full and says the rest follow "by replacing LSTM with GRU"
and "adding ``Bidirectional``"; every one has the same skeleton::

    inputs = keras.Input(shape=(maxlen,))
    embedding = layers.Embedding(num_words, 64)(inputs)
    rl = layers.LSTM(128)(embedding)                          # SS_RSF_LSTM
    #    layers.LSTM(128, return_sequences=True)               # RST: all states ...
    #    avg = layers.AveragePooling1D(pool_size=maxlen)(rl)  # ... averaged: (batch, 1, 128)
    #    a first LSTM(128, return_sequences=True) below it     # MS_*_LSTM: two stacked
    #    layers.Bidirectional(layers.LSTM(128, ...))           # MS_*_biLSTM
    dense = layers.Dense(64)(rl)                               # no activation
    output = layers.Dense(1, activation="sigmoid")(dense)
    model = keras.Model(inputs=inputs, outputs=output, name="SS_RSF_LSTM")

The seed writes ``shape=(99,)`` and ``pool_size=99`` because its padded IMDB was 99 wide;
here both are the width of the arrays it is given (100 for ``imdb-short``, maxlen 100).
``RST`` models output ``(batch, 1, 1)`` (the pooled time axis stays), as in the seed.

Run as a script it trains one arrangement with ``model.fit`` and prints one JSON line; the
benchmark (``bench_study_vs_keras.py``) runs it in a subprocess per measurement, under the
TensorFlow venv or the project venv (``KERAS_BACKEND`` must be set before keras is imported,
so this module imports keras only inside functions). It needs numpy and keras only: the
TensorFlow venv has no rnnlab.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

# The 12 arrangements in the seed's order (the same tuple as rnnlab.models.SEED_ARRANGEMENTS,
# repeated here because the TensorFlow venv has no rnnlab; the test checks they agree).
SEED_ARRANGEMENTS = (
    "SS_RSF_LSTM", "SS_RSF_GRU", "SS_RST_LSTM", "SS_RST_GRU",
    "MS_RSF_LSTM", "MS_RSF_GRU", "MS_RSF_biLSTM", "MS_RSF_biGRU",
    "MS_RST_LSTM", "MS_RST_GRU", "MS_RST_biLSTM", "MS_RST_biGRU",
)
EMBEDDING_SIZE = 64  # seed: layers.Embedding(num_words, 64)
HIDDEN_SIZE = 128  # seed: layers.LSTM(128) / layers.GRU(128)
DENSE_SIZE = 64  # seed: layers.Dense(64), no activation


def build_seed_model(name: str, num_words: int, maxlen: int) -> Any:
    """The seed's functional model for arrangement ``name``: ids (batch, maxlen) → P(pos).

    Output shape: ``(batch, 1)`` for RSF, ``(batch, 1, 1)`` for RST (as the seed's code gives).
    """
    import keras
    from keras import layers

    if name not in SEED_ARRANGEMENTS:
        raise ValueError(f"name must be one of {list(SEED_ARRANGEMENTS)}, got {name!r}")
    stack, output_type, cell_name = name.split("_")
    bidirectional = cell_name.startswith("bi")
    cell = layers.LSTM if cell_name.endswith("LSTM") else layers.GRU
    return_sequences = output_type == "RST"

    inputs = keras.Input(shape=(maxlen,))
    embedding = layers.Embedding(num_words, EMBEDDING_SIZE)(inputs)
    if bidirectional:  # MS_*_biLSTM: one bidirectional layer
        rl = layers.Bidirectional(cell(HIDDEN_SIZE, return_sequences=return_sequences))(
            embedding)
    elif stack == "MS":  # MS_*_LSTM: the lower layer returns its sequence to the upper one
        rl = cell(HIDDEN_SIZE, return_sequences=True)(embedding)
        rl = cell(HIDDEN_SIZE, return_sequences=return_sequences)(rl)
    else:
        rl = cell(HIDDEN_SIZE, return_sequences=return_sequences)(embedding)
    if return_sequences:
        rl = layers.AveragePooling1D(pool_size=maxlen)(rl)
    dense = layers.Dense(DENSE_SIZE)(rl)
    output = layers.Dense(1, activation="sigmoid")(dense)
    return keras.Model(inputs=inputs, outputs=output, name=name)


def compile_seed_model(model: Any) -> None:
    """Adam (Keras defaults: lr 1e-3), binary cross-entropy, accuracy (what the seed reports)."""
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])


def labels_for(model: Any, labels: np.ndarray) -> np.ndarray:
    """``labels (examples,)`` shaped like the model's output: ``(examples, 1, 1)`` for RST.

    Keras 3 rejects a ``(batch,)`` target against the seed's ``(batch, 1, 1)`` RST output
    ("must have the same rank"); reshaping the labels keeps the seed's model, its loss per
    example and its cost unchanged.
    """
    extra_axes = len(model.output.shape) - labels.ndim
    return labels.reshape(labels.shape + (1,) * extra_axes).astype("float32")


def load_arrays(path: str) -> dict[str, np.ndarray]:
    """x_train ``(examples, time)`` int64 ids, y_train ``(examples,)``; x_test, y_test alike."""
    with np.load(path) as arrays:
        return {key: arrays[key] for key in ("x_train", "y_train", "x_test", "y_test")}


def limit_threads(threads: int) -> None:
    """Pin the backend to ``threads`` CPU threads (before any op runs)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)
    else:
        raise ValueError(f"KERAS_BACKEND must be tensorflow or torch, got {backend!r}")


def time_seed_fit(arrays: dict[str, np.ndarray], name: str, *, epochs: int, seed: int,
                  batch_size: int = 32) -> dict[str, Any]:
    """Build, compile and ``fit`` one arrangement as the seed does; time every epoch.

    Returns epoch_seconds (one per epoch, from a callback), build_seconds (build + compile),
    fit_seconds (the whole ``fit`` call), the last epoch's train loss/accuracy and the test
    accuracy after training (evaluated outside every timed span).
    """
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self.cpu_seconds: list[float] = []  # all threads of this process
            self._started = (0.0, 0.0)

        def on_epoch_begin(self, epoch, logs=None):
            self._started = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._started[0])
            self.cpu_seconds.append(time.process_time() - self._started[1])

    keras.utils.set_random_seed(seed)  # the seed's "same initial weights per run"
    x_train = arrays["x_train"]
    started = time.perf_counter()
    model = build_seed_model(name, num_words=int(arrays["num_words"]), maxlen=x_train.shape[1])
    compile_seed_model(model)
    build_seconds = time.perf_counter() - started
    y_train, y_test = labels_for(model, arrays["y_train"]), labels_for(model, arrays["y_test"])
    timer = EpochTimer()
    started = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0,
                        callbacks=[timer])
    fit_seconds = time.perf_counter() - started
    _, test_accuracy = model.evaluate(arrays["x_test"], y_test, batch_size=256,
                                      verbose=0)
    return {
        "side": f"keras-{keras.backend.backend()}",
        "arrangement": name,
        "epoch_seconds": timer.seconds,
        "epoch_cpu_seconds": timer.cpu_seconds,
        "train_examples": len(x_train),
        "build_seconds": build_seconds,
        "fit_seconds": fit_seconds,
        "train_loss": float(history.history["loss"][-1]),
        "train_accuracy": float(history.history["accuracy"][-1]),
        "test_accuracy": float(test_accuracy),
        "parameters": int(model.count_params()),
        "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    import keras

    versions = {"keras": keras.__version__, "backend": keras.backend.backend()}
    if versions["backend"] == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    else:
        import torch

        versions["torch"] = torch.__version__
    return versions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help=".npz written by the benchmark")
    parser.add_argument("--arrangement", required=True, choices=SEED_ARRANGEMENTS)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--num-words", type=int, default=5000)
    args = parser.parse_args(argv)
    if "KERAS_BACKEND" not in os.environ:
        parser.error("set KERAS_BACKEND (tensorflow or torch) before running this worker")
    limit_threads(args.threads)
    arrays: dict[str, Any] = load_arrays(args.data)
    arrays["num_words"] = args.num_words
    result = time_seed_fit(arrays, args.arrangement, epochs=args.epochs, seed=args.seed)
    result["threads"] = args.threads
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
