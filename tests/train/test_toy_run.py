"""Toy runs: losses as defined (checked at the baselines), same seed same numbers, exact resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnlab.data.toys import ToyTaskConfig, copy_baseline_cross_entropy
from rnnlab.models.toys import ToyModel, ToyModelConfig
from rnnlab.train.toy_run import ToyTrainConfig, train_toy
from rnnlab.train.toy_tasks import build_toy_data


def test_always_predicting_one_scores_about_the_adding_baseline_on_the_test_set():
    data = build_toy_data(ToyTaskConfig("adding", 20, eval_examples=5000))
    inputs, targets = data.test
    constant = torch.ones(len(inputs))
    mse = float(data.loss(constant, torch.from_numpy(targets)))
    squared = (targets.astype(np.float64) - 1) ** 2
    assert mse == pytest.approx(squared.mean(), rel=1e-5)  # the loss is the plain MSE
    assert abs(mse - data.baseline) < 4 * squared.std() / math.sqrt(len(squared))


def test_the_memoryless_copy_guess_scores_exactly_the_baseline():
    T = 12
    data = build_toy_data(ToyTaskConfig("copy", T, eval_examples=50))
    inputs, targets = data.test
    # Blank with certainty for T + 10 steps, then each data symbol with probability 1/8.
    logits = torch.full((len(inputs), T + 20, 10), -1e4)
    logits[:, : T + 10, 0] = 0.0
    logits[:, T + 10:, 1:9] = 0.0
    loss = float(data.loss(logits, torch.from_numpy(targets)))
    assert loss == pytest.approx(copy_baseline_cross_entropy(T), rel=1e-6)


def _tiny(task: str, T: int, cell: str = "gru") -> tuple:
    data = build_toy_data(ToyTaskConfig(task, T, eval_examples=16))
    return ToyModelConfig(task, cell=cell, hidden_size=5), data


@pytest.mark.parametrize("task", ["adding", "copy"])
def test_the_same_seed_gives_the_same_records_and_another_seed_others(task):
    model, data = _tiny(task, 6)
    training = ToyTrainConfig(steps=6, eval_every=3, batch_size=4)
    runs = [train_toy(model, data, training, seed=seed).history for seed in (4, 4, 5)]
    numbers = [[m.without_timing() for m in history] for history in runs]
    assert numbers[0] == numbers[1]
    assert numbers[0] != numbers[2]
    assert [m.epoch for m in runs[0]] == [0, 1, 2] and runs[0][0].train_loss is None


def test_a_resumed_run_records_what_an_uninterrupted_one_does(tmp_path):
    model, data = _tiny("adding", 8, cell="lstm")
    whole = train_toy(model, data, ToyTrainConfig(steps=8, eval_every=2, batch_size=4), seed=1)
    first = train_toy(model, data, ToyTrainConfig(steps=4, eval_every=2, batch_size=4), seed=1,
                      out_dir=tmp_path)
    replayed = []
    resumed = train_toy(model, data, ToyTrainConfig(steps=8, eval_every=2, batch_size=4), seed=1,
                        out_dir=tmp_path, on_record=replayed.append)
    assert len(first.history) == 3
    assert [m.without_timing() for m in resumed.history] == [
        m.without_timing() for m in whole.history]
    assert [m.epoch for m in replayed] == [0, 1, 2, 3, 4]  # restored records come first


def test_resuming_into_another_runs_directory_is_refused(tmp_path):
    model, data = _tiny("adding", 8)
    train_toy(model, data, ToyTrainConfig(steps=2, eval_every=2, batch_size=4), seed=1,
              out_dir=tmp_path)
    with pytest.raises(ValueError, match="cannot resume .* its seed differs"):
        train_toy(model, data, ToyTrainConfig(steps=2, eval_every=2, batch_size=4), seed=2,
                  out_dir=tmp_path)


def test_training_batches_depend_on_seed_and_step_only():
    _, data = _tiny("copy", 5)
    a, b = data.train_batch(3, 10, 4), data.train_batch(3, 10, 4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], data.train_batch(3, 11, 4)[0])


@pytest.mark.parametrize("cell", ["rnn", "rnn_relu", "gru", "lstm", "peephole", "cifg",
                                  "layernorm"])
def test_every_cell_builds_for_every_task_with_the_right_output_shape(cell):
    adding = ToyModel(ToyModelConfig("adding", cell=cell, hidden_size=6))
    assert adding(torch.rand(3, 7, 2)).shape == (3,)
    copy = ToyModel(ToyModelConfig("copy", cell=cell, hidden_size=6))
    assert copy(torch.randint(0, 10, (3, 7))).shape == (3, 7, 10)
    quotes = ToyModel(ToyModelConfig("quotes", cell=cell, hidden_size=6, classes=11))
    assert quotes(torch.randint(0, 11, (3, 7))).shape == (3, 7, 11)


def test_bad_model_and_training_settings_name_the_argument():
    with pytest.raises(ValueError, match="cell must be one of .* got 'transformer'"):
        ToyModelConfig("adding", cell="transformer")
    with pytest.raises(ValueError, match=r"steps \(250\) must be a multiple of eval_every"):
        ToyTrainConfig(steps=250, eval_every=100)
    with pytest.raises(ValueError, match="lr must be a number in"):
        ToyTrainConfig(lr=0)
    with pytest.raises(ValueError, match="adding inputs must be"):
        ToyModel(ToyModelConfig("adding", hidden_size=4))(torch.rand(2, 5, 3))


def test_forget_bias_sets_the_lstm_forget_gate_and_is_refused_for_cells_without_one():
    model = ToyModel(ToyModelConfig("adding", cell="lstm", hidden_size=3, forget_bias=1.0))
    bias = (model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0).detach()
    assert torch.equal(bias[3:6], torch.ones(3))  # gates stacked (i, f, g, o)
    assert "forget_bias" not in ToyModelConfig("adding").to_dict()  # old configs unchanged
    with pytest.raises(ValueError, match="forget_bias needs a cell with a forget gate"):
        ToyModelConfig("adding", cell="gru", forget_bias=1.0)


def test_the_step_decay_schedule_by_hand():
    constant = ToyTrainConfig(lr=0.01)
    assert [constant.lr_at(s) for s in (0, 999, 10**6)] == [0.01] * 3
    decayed = ToyTrainConfig(lr=0.01, lr_decay=0.5, lr_decay_every=10, lr_decay_start=100)
    assert [decayed.lr_at(s) for s in (0, 99, 100, 109, 110, 125)] == pytest.approx(
        [0.01, 0.01, 0.01, 0.01, 0.005, 0.0025])


def test_a_decayed_rate_is_what_the_optimiser_steps_with():
    """From step 2 on the rate is ~1e-20: the weights after 4 steps are those after 2."""
    model, data = _tiny("adding", 6, cell="lstm")
    two = train_toy(model, data, ToyTrainConfig(steps=2, eval_every=2, batch_size=4), seed=3)
    frozen = train_toy(model, data, ToyTrainConfig(
        steps=4, eval_every=2, batch_size=4, lr_decay=1e-20, lr_decay_every=1, lr_decay_start=1),
        seed=3)
    moving = train_toy(model, data, ToyTrainConfig(steps=4, eval_every=2, batch_size=4), seed=3)
    for name, weight in two.model.state_dict().items():
        assert torch.allclose(frozen.model.state_dict()[name], weight, rtol=0, atol=1e-12), name
    assert any(not torch.equal(moving.model.state_dict()[name], weight)
               for name, weight in two.model.state_dict().items())


def test_a_decayed_run_resumes_on_its_schedule_and_refuses_another(tmp_path):
    model, data = _tiny("copy", 5, cell="gru")

    def config(steps: int, decay: float = 0.3) -> ToyTrainConfig:
        return ToyTrainConfig(steps=steps, eval_every=2, batch_size=4, lr=0.01, lr_decay=decay,
                              lr_decay_every=2, lr_decay_start=1)

    whole = train_toy(model, data, config(6), seed=1)
    train_toy(model, data, config(2), seed=1, out_dir=tmp_path)
    resumed = train_toy(model, data, config(6), seed=1, out_dir=tmp_path)
    assert [m.without_timing() for m in resumed.history] == [
        m.without_timing() for m in whole.history]
    with pytest.raises(ValueError, match="cannot resume .* its lr_decay differs"):
        train_toy(model, data, config(6, decay=0.5), seed=1, out_dir=tmp_path)
    assert "lr_decay" not in ToyTrainConfig().to_dict()  # constant-rate configs unchanged


def test_bad_schedule_settings_name_the_argument():
    with pytest.raises(ValueError, match=r"lr_decay must be a factor in \(0, 1\]"):
        ToyTrainConfig(lr_decay=1.5)
    with pytest.raises(ValueError, match=r"lr_decay_every must be an int in \[1"):
        ToyTrainConfig(lr_decay=0.5, lr_decay_every=0)
    with pytest.raises(ValueError, match="lr_decay_start must be a step"):
        ToyTrainConfig(lr_decay=0.5, lr_decay_start=-1)
    with pytest.raises(ValueError, match=r"layers must be an int in \[1, 100\]"):
        ToyModelConfig("quotes", layers=0)


def test_stacked_layers_train_carry_their_state_and_set_every_forget_gate():
    model = ToyModel(ToyModelConfig("adding", cell="lstm", hidden_size=3, layers=2,
                                    forget_bias=1.0))
    for layer in range(2):
        bias = (getattr(model.rnn, f"bias_ih_l{layer}") + getattr(model.rnn, f"bias_hh_l{layer}"))
        assert torch.equal(bias.detach()[3:6], torch.ones(3)), layer
    ids = torch.randint(0, 11, (2, 9))
    quotes = ToyModel(ToyModelConfig("quotes", hidden_size=4, layers=3, classes=11))
    whole, state = quotes(ids, return_state=True)
    assert whole.shape == (2, 9, 11) and state[0].shape == (3, 2, 4)
    first, carried = quotes(ids[:, :5], return_state=True)
    second = quotes(ids[:, 5:], carried)  # a carried state continues the sequence exactly
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-6)
    assert "layers" not in ToyModelConfig("adding").to_dict()  # one-layer configs unchanged
