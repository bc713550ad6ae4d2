"""The seed's Keras models and the study benchmark's data handoff (no timing here).

The Keras side of ``benchmarks/bench_study_vs_keras.py`` must be the seed's 12 models, and
both sides must train on the same arrays; these tests check both without training.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.keras_support import require_keras

keras, pytestmark = require_keras("these tests build Keras models on the torch backend")

from rnnlab.models import (  # noqa: E402 - keras must be imported after KERAS_BACKEND is set
    SEED_ARRANGEMENTS,
    ClassifierConfig,
    SequenceClassifier,
    parameter_count,
)

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


seed_models = _load("keras_seed_models")
bench = _load("bench_study_vs_keras")

VOCAB, EMBED, HIDDEN, DENSE = 5000, 64, 128, 64


def _lstm(inputs: int) -> int:  # Keras LSTM: one bias per gate
    return 4 * (HIDDEN * inputs + HIDDEN * HIDDEN + HIDDEN)


def _gru(inputs: int) -> int:  # Keras GRU, reset_after=True: input and recurrent biases
    return 3 * (HIDDEN * inputs + HIDDEN * HIDDEN + 2 * HIDDEN)


def _expected_keras_parameters(name: str) -> int:
    """Counted by hand from the seed's layer sizes."""
    stack, _, cell_name = name.split("_")
    cell = _lstm if cell_name.endswith("LSTM") else _gru
    if cell_name.startswith("bi"):
        recurrent, features = 2 * cell(EMBED), 2 * HIDDEN
    elif stack == "MS":
        recurrent, features = cell(EMBED) + cell(HIDDEN), HIDDEN
    else:
        recurrent, features = cell(EMBED), HIDDEN
    return VOCAB * EMBED + recurrent + (features * DENSE + DENSE) + (DENSE + 1)


def test_the_keras_helper_lists_the_same_12_arrangements_as_rnnlab():
    assert seed_models.SEED_ARRANGEMENTS == SEED_ARRANGEMENTS


def test_seed_ss_rsf_lstm_has_the_hand_counted_parameters():
    # 320000 embedding + 98816 LSTM + 8256 Dense(64) + 65 Dense(1)
    assert _expected_keras_parameters("SS_RSF_LSTM") == 427_137


@pytest.mark.parametrize("name", SEED_ARRANGEMENTS)
def test_seed_model_builds_with_expected_parameters_and_matches_rnnlab(name):
    model = seed_models.build_seed_model(name, num_words=VOCAB, maxlen=100)
    assert model.count_params() == _expected_keras_parameters(name)
    ours = SequenceClassifier(ClassifierConfig.from_arrangement(name, vocab_size=VOCAB))
    assert parameter_count(ours, convention="keras") == model.count_params()
    rst = name.split("_")[1] == "RST"
    assert tuple(model.output.shape) == ((None, 1, 1) if rst else (None, 1))


def test_rst_labels_take_the_output_shape_so_fit_accepts_them():
    model = seed_models.build_seed_model("SS_RST_GRU", num_words=11, maxlen=7)
    seed_models.compile_seed_model(model)
    labels = seed_models.labels_for(model, np.array([0, 1, 1]))
    assert labels.shape == (3, 1, 1)
    loss, _ = model.train_on_batch(np.arange(21).reshape(3, 7) % 11, labels)
    assert np.isfinite(loss)


def test_both_sides_of_the_benchmark_read_identical_arrays(tmp_path):
    prepared = bench.prepare_arrays()
    npz = bench.write_arrays(prepared, tmp_path, train_examples=64)
    keras_arrays = seed_models.load_arrays(str(npz))
    data, test = bench.rnnlab_data(npz, tmp_path / "vocab.json")
    rows = bench.subset_rows(len(prepared.train), 64)
    for ours, theirs, source in (
        (data.train.ids, keras_arrays["x_train"], prepared.train.ids[rows]),
        (data.train.labels, keras_arrays["y_train"], prepared.train.labels[rows]),
        (test.ids, keras_arrays["x_test"], prepared.test.ids),
        (test.labels, keras_arrays["y_test"], prepared.test.labels),
    ):
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(ours, source)
    assert data.train.ids.shape == (64, 100)
    assert len(data.vocab) == VOCAB
    assert set(np.unique(data.train.labels)) == {0, 1}  # a random subset, not a sorted prefix


def test_write_section_replaces_only_its_own_section(tmp_path):
    results = tmp_path / "RESULTS.md"
    bench.write_section(results, bench.SECTION_TITLE + "\n\nfirst\n")
    assert results.read_text().startswith("# Benchmark results\n\n" + bench.SECTION_TITLE)
    results.write_text(results.read_text() + "\n## Someone else's\n\ntheirs\n")
    bench.write_section(results, bench.SECTION_TITLE + "\n\nsecond\n")
    text = results.read_text()
    assert "second" in text and "first" not in text
    assert text.endswith("## Someone else's\n\ntheirs\n")
