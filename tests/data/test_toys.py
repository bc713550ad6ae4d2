"""The toy generators: structure checked element by element, baselines exact and empirical."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnlab.data.toys import (
    COPY_BLANK,
    COPY_DELIMITER,
    ToyTaskConfig,
    adding_baseline_mse,
    adding_batch,
    copy_baseline_cross_entropy,
    copy_batch,
    task_rng,
)


@pytest.mark.parametrize("T", [2, 7, 50])
def test_adding_targets_are_the_sum_of_the_two_marked_values_one_per_half(T):
    batch = adding_batch(task_rng(3, 0), 64, T)
    assert batch.inputs.shape == (64, T, 2) and batch.targets.shape == (64,)
    for row in range(64):  # an independent loop over each sequence
        values, markers = batch.inputs[row, :, 0], batch.inputs[row, :, 1]
        marked = np.flatnonzero(markers == 1)
        assert len(marked) == 2 and set(np.unique(markers)) <= {0.0, 1.0}
        assert marked[0] < T // 2 <= marked[1]
        assert batch.targets[row] == pytest.approx(values[marked].sum(), abs=1e-6)
    assert ((batch.inputs[..., 0] >= 0) & (batch.inputs[..., 0] < 1)).all()


def test_adding_baseline_is_one_sixth_and_matches_predicting_one_empirically():
    assert adding_baseline_mse() == pytest.approx(1 / 6, abs=1e-15)  # Var(U1 + U2) = 2/12
    targets = adding_batch(task_rng(11, 0), 200_000, 20).targets.astype(np.float64)
    squared = (targets - 1.0) ** 2
    standard_error = squared.std() / math.sqrt(squared.size)
    assert abs(squared.mean() - 1 / 6) < 4 * standard_error
    assert abs(targets.mean() - 1.0) < 4 * targets.std() / math.sqrt(targets.size)


@pytest.mark.parametrize("T", [1, 5, 100])
def test_copy_sequences_hold_ten_symbols_blanks_the_delimiter_and_the_recall(T):
    batch = copy_batch(task_rng(5, 2), 32, T)
    length = T + 20
    assert batch.inputs.shape == batch.targets.shape == (32, length)
    for row in range(32):
        inputs, targets = batch.inputs[row].tolist(), batch.targets[row].tolist()
        symbols = inputs[:10]
        assert all(1 <= s <= 8 for s in symbols)
        assert inputs[10:10 + T - 1] == [COPY_BLANK] * (T - 1)
        assert inputs[10 + T - 1] == COPY_DELIMITER
        assert inputs[10 + T:] == [COPY_BLANK] * 10
        assert targets == [COPY_BLANK] * (T + 10) + symbols


def test_copy_baseline_is_exact_and_is_what_the_best_memoryless_predictor_scores():
    T = 30
    assert copy_baseline_cross_entropy(100) == pytest.approx(10 * math.log(8) / 120)
    # The best model without memory predicts, at each position, the targets' frequencies
    # there: estimate them on one sample, score another.
    fit = copy_batch(task_rng(1, 0), 20_000, T).targets
    score = copy_batch(task_rng(2, 0), 20_000, T).targets
    frequencies = np.stack([np.bincount(fit[:, t], minlength=10) for t in range(T + 20)])
    probabilities = (frequencies + 1e-9) / frequencies.sum(axis=1, keepdims=True)
    nll = -np.log(probabilities[np.arange(T + 20), score]).mean()
    assert nll == pytest.approx(copy_baseline_cross_entropy(T), rel=2e-3)


@pytest.mark.parametrize("draw", [adding_batch, copy_batch])
def test_same_seed_and_step_give_the_same_batch_and_another_step_another(draw):
    first = draw(task_rng(7, 3), 8, 12)
    again = draw(task_rng(7, 3), 8, 12)
    other = draw(task_rng(7, 4), 8, 12)
    np.testing.assert_array_equal(first.inputs, again.inputs)
    np.testing.assert_array_equal(first.targets, again.targets)
    assert not np.array_equal(first.inputs, other.inputs)


@pytest.mark.parametrize(("task", "T", "needed"), [
    ("adding", 1, "T >= 2"), ("adding", 0, "T >= 2"), ("copy", 0, "T >= 1"),
    ("adding", None, "T"), ("copy", True, "T"), ("adding", 2.5, "T")])
def test_a_length_the_task_does_not_allow_is_refused_naming_T_and_the_fix(task, T, needed):
    with pytest.raises(ValueError, match="T must be an int") as raised:
        ToyTaskConfig(task, T)
    assert needed in str(raised.value) and repr(T) in str(raised.value)


def test_an_unknown_task_is_refused_listing_the_tasks():
    with pytest.raises(ValueError, match=r"task must be one of \['adding', 'copy', 'quotes'\]"):
        ToyTaskConfig("parity", 10)


def test_quotes_takes_no_T_and_the_condition_names_task_and_length():
    with pytest.raises(ValueError, match="T is for adding and copy"):
        ToyTaskConfig("quotes", 100)
    assert ToyTaskConfig("adding", 200).condition == "adding-T200"
    assert ToyTaskConfig("quotes").condition == "quotes"


def test_a_negative_seed_or_batch_is_refused():
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        task_rng(-1)
    with pytest.raises(ValueError, match="batch must be an int"):
        adding_batch(task_rng(0), 0, 10)
