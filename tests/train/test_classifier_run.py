"""train_classifier: learns, is deterministic, checkpoints, resumes bit for bit, stops early."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rnnlab.train import (
    EpochMetrics,
    TrainConfig,
    classifier_config_for,
    load_checkpoint,
    load_run,
    train_classifier,
)
from rnnlab.train import classifier_run as classifier_run_module
from rnnlab.train.divergence import TrainingDivergedError
from rnnlab.train.loop import epoch_batches
from tests.train.helpers import (
    RESUME_CONFIG,
    RESUME_TRAIN,
    synthetic_data,
    tiny_config,
)

REPO = Path(__file__).resolve().parents[2]


def metrics_without_timing(result):
    return [m.without_timing() for m in result.history]


def assert_same_weights(first, second):
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


def test_model_overfits_a_tiny_batch():
    data = synthetic_data(train=8, valid=4, test=4)
    config = tiny_config(data, "SS_RSF_LSTM")
    result = train_classifier(config, data, seed=0, progress=False,
                              train_config=TrainConfig(epochs=40, batch_size=8, lr=3e-2))
    assert result.history[-1].train_accuracy == 1.0
    assert result.history[-1].train_loss < 0.05 < result.history[0].train_loss


def test_same_seed_gives_the_same_numbers_bit_for_bit():
    data = synthetic_data()
    config = tiny_config(data, **RESUME_CONFIG)
    first = train_classifier(config, data, seed=1, train_config=RESUME_TRAIN, progress=False)
    second = train_classifier(config, data, seed=1, train_config=RESUME_TRAIN, progress=False)
    assert metrics_without_timing(first) == metrics_without_timing(second)
    assert_same_weights(first.model, second.model)
    third = train_classifier(config, data, seed=2, train_config=RESUME_TRAIN, progress=False)
    assert metrics_without_timing(third) != metrics_without_timing(first)


def test_training_leaves_the_global_rng_alone():
    data = synthetic_data()
    before = torch.get_rng_state()
    train_classifier(tiny_config(data, **RESUME_CONFIG), data, seed=0, epochs=1, progress=False)
    assert torch.equal(torch.get_rng_state(), before)


def test_batch_order_depends_on_the_data_seed_and_epoch_only():
    data = synthetic_data()
    config = TrainConfig(batch_size=8)
    first = epoch_batches(data.train, config, data_seed=3, epoch=1)
    again = epoch_batches(data.train, config, data_seed=3, epoch=1)
    assert all(map(torch.equal, map(torch.as_tensor, first), map(torch.as_tensor, again)))
    other_epoch = epoch_batches(data.train, config, data_seed=3, epoch=2)
    assert [b.tolist() for b in first] != [b.tolist() for b in other_epoch]
    assert sorted(i for b in first for i in b.tolist()) == list(range(len(data.train)))


def test_writes_checkpoint_config_vocab_and_metrics(tmp_path):
    data = synthetic_data()
    seen = []
    result = train_classifier(tiny_config(data), data, seed=0, out_dir=tmp_path, epochs=2,
                              on_epoch=seen.append, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.pt", "checkpoint.pt.sha256", "config.json", "metrics.json", "vocab.json"]
    assert [m.epoch for m in seen] == [1, 2]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert metrics["final"]["test_accuracy"] == result.final.test_accuracy
    assert metrics["final"]["test_loss"] == result.final.test_loss
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"] == tiny_config(data).to_dict() and config["seed"] == 0
    payload = load_checkpoint(tmp_path / "checkpoint.pt")
    assert payload["epoch"] == 2 and payload["vocab"]["tokens"] == list(data.vocab.tokens)
    assert set(payload) >= {"model", "optimizer", "rng", "metrics", "model_config"}


def test_epoch_metrics_fit_the_experiment_store():
    store_records = pytest.importorskip("rnnlab.experiments.store_records")
    data = synthetic_data()
    result = train_classifier(tiny_config(data), data, seed=0, epochs=1, progress=False)
    assert store_records.EpochMetrics is EpochMetrics  # one record for training and the store
    assert store_records.epoch_values(result.history[0]) == tuple(
        result.history[0].to_dict()[name] for name in store_records.EPOCH_METRIC_NAMES
    )


def test_resume_after_a_crash_is_bit_identical(tmp_path):
    data = synthetic_data()
    config = tiny_config(data, **RESUME_CONFIG)
    uninterrupted = train_classifier(config, data, seed=5, out_dir=tmp_path / "a",
                                     train_config=RESUME_TRAIN, progress=False)

    class CrashError(Exception):
        pass

    def crash_after_two(metrics):
        if metrics.epoch == 2:
            raise CrashError

    with pytest.raises(CrashError):
        train_classifier(config, data, seed=5, out_dir=tmp_path / "b",
                         train_config=RESUME_TRAIN, on_epoch=crash_after_two, progress=False)
    replayed = []
    resumed = train_classifier(config, data, seed=5, out_dir=tmp_path / "b",
                               train_config=RESUME_TRAIN, resume=True, on_epoch=replayed.append,
                               progress=False)
    assert resumed.resumed_from == 2
    assert [m.epoch for m in replayed] == [1, 2, 3, 4]  # restored epochs replayed first
    assert metrics_without_timing(resumed) == metrics_without_timing(uninterrupted)
    assert_same_weights(resumed.model, uninterrupted.model)


def test_sigkill_mid_run_then_resume_is_bit_identical(tmp_path):
    """A real crash: the child SIGKILLs itself right after epoch 2's checkpoint."""
    data = synthetic_data()
    config = tiny_config(data, **RESUME_CONFIG)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    child = subprocess.run([sys.executable, "-m", "tests.train.helpers", str(tmp_path / "b"),
                            "2"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["epoch"] == 2
    resumed = train_classifier(config, data, seed=5, out_dir=tmp_path / "b",
                               train_config=RESUME_TRAIN, resume=True, progress=False)
    uninterrupted = train_classifier(config, data, seed=5, train_config=RESUME_TRAIN,
                                     progress=False)
    assert metrics_without_timing(resumed) == metrics_without_timing(uninterrupted)
    assert_same_weights(resumed.model, uninterrupted.model)
    final = json.loads((tmp_path / "b" / "metrics.json").read_text())["final"]
    assert final["test_accuracy"] == uninterrupted.final.test_accuracy


def test_resuming_a_finished_run_trains_nothing_and_more_epochs_continue(tmp_path):
    data = synthetic_data()
    config = tiny_config(data)
    train_classifier(config, data, seed=0, out_dir=tmp_path, epochs=2, progress=False)
    again = train_classifier(config, data, seed=0, out_dir=tmp_path, epochs=2, resume=True,
                             progress=False)
    assert again.resumed_from == 2 and len(again.history) == 2
    longer = train_classifier(config, data, seed=0, out_dir=tmp_path, epochs=3, resume=True,
                              progress=False)
    straight = train_classifier(config, data, seed=0, epochs=3, progress=False)
    assert metrics_without_timing(longer) == metrics_without_timing(straight)


def test_existing_run_without_resume_is_an_error(tmp_path):
    data = synthetic_data()
    train_classifier(tiny_config(data), data, seed=0, out_dir=tmp_path, epochs=1, progress=False)
    with pytest.raises(ValueError, match="already holds a run"):
        train_classifier(tiny_config(data), data, seed=0, out_dir=tmp_path, epochs=1,
                         progress=False)


@pytest.mark.parametrize(
    ("change", "key"),
    [({"seed": 1}, "seed"), ({"config": "MS_RST_GRU"}, "model_config"),
     ({"lr": 0.5}, "train_config_without_epochs")],
)
def test_resume_refuses_a_different_run(tmp_path, change, key):
    data = synthetic_data()
    train_classifier(tiny_config(data), data, seed=0, out_dir=tmp_path, epochs=1, progress=False)
    config = tiny_config(data, change.get("config", "MS_RST_LSTM"))
    train_config = TrainConfig(epochs=2, lr=change.get("lr", 1e-3))
    with pytest.raises(ValueError, match=f"its {key} differs"):
        train_classifier(config, data, seed=change.get("seed", 0), out_dir=tmp_path,
                         train_config=train_config, resume=True, progress=False)


def test_early_stopping_restores_the_best_epoch(monkeypatch, tmp_path):
    data = synthetic_data()
    config = tiny_config(data)
    plain = train_classifier(config, data, seed=0, epochs=2, progress=False)
    # Script the valid loss: best at epoch 2, then worse epochs. (Evaluation draws no random
    # numbers, so faking it leaves the training itself unchanged.)
    valid_losses = iter([0.5, 0.4, 0.6, 0.7, 0.8, 0.9])

    def fake_evaluate(model, split, **kwargs):
        return (next(valid_losses) if split is data.valid else 1.0), 0.5

    monkeypatch.setattr(classifier_run_module, "evaluate_split", fake_evaluate)
    result = train_classifier(config, data, seed=0, progress=False, out_dir=tmp_path,
                              train_config=TrainConfig(epochs=10, patience=2))
    assert [m.epoch for m in result.history] == [1, 2, 3, 4]
    assert result.stopped_early and result.best_epoch == 2 and result.final.epoch == 2
    assert_same_weights(result.model, plain.model)  # the weights of epoch 2, restored
    assert_same_weights(load_run(tmp_path).model, plain.model)  # and what the run dir serves
    final = json.loads((tmp_path / "metrics.json").read_text())["final"]
    assert final["epoch"] == 2 and final["stopped_early"] and final["epochs_run"] == 4
    # resuming a run that stopped early trains nothing more
    again = train_classifier(config, data, seed=0, progress=False, out_dir=tmp_path,
                             resume=True, train_config=TrainConfig(epochs=10, patience=2))
    assert len(again.history) == 4 and again.final.epoch == 2


def test_gradient_clipping_changes_the_updates():
    data = synthetic_data()
    config = tiny_config(data)
    plain = train_classifier(config, data, seed=0, epochs=1, progress=False)
    clipped = train_classifier(config, data, seed=0, progress=False,
                               train_config=TrainConfig(epochs=1, clip_grad_norm=1e-9))
    assert metrics_without_timing(plain) != metrics_without_timing(clipped)


def test_post_padded_masked_and_multiclass_runs_train():
    data = synthetic_data(padding="post")
    config = tiny_config(data, "MS_RSF_biGRU", masked=True, pooling="max")
    result = train_classifier(config, data, seed=0, epochs=1, progress=False)
    assert 0.0 <= result.final.test_accuracy <= 1.0
    multiclass = replace(data, label_names=("neg", "pos", "meh"))
    model_config = classifier_config_for(multiclass, "SS_RSF_GRU", hidden_size=4,
                                         embedding_size=3, dense_size=5)
    result = train_classifier(model_config, multiclass, seed=0, epochs=1, progress=False)
    assert result.model(torch.ones(2, 3, dtype=torch.long)).shape == (2, 3)


def test_incompatible_config_is_an_error():
    data = synthetic_data()
    with pytest.raises(ValueError, match="vocab_size=5 is smaller"):
        train_classifier(tiny_config(data, vocab_size=5), data, seed=0, epochs=1)
    with pytest.raises(ValueError, match="num_classes=3 but the data has 2 classes"):
        train_classifier(tiny_config(data, num_classes=3), data, seed=0, epochs=1)
    with pytest.raises(ValueError, match="padding='post' but the data is padded 'pre'"):
        train_classifier(tiny_config(data, padding="post"), data, seed=0, epochs=1)


def test_a_diverging_run_raises_before_checkpointing_the_bad_epoch(tmp_path):
    data = synthetic_data()
    good = TrainConfig(epochs=1, batch_size=8, lr=1e-2)
    train_classifier(tiny_config(data), data, seed=0, out_dir=tmp_path, train_config=good,
                     progress=False)
    saved = load_checkpoint(tmp_path / "checkpoint.pt")
    with pytest.raises(TrainingDivergedError, match=r"lr|learning rate 1e\+30"):
        train_classifier(tiny_config(data), data, seed=0, out_dir=tmp_path / "bad",
                         train_config=replace(good, lr=1e30), progress=False)
    assert not (tmp_path / "bad" / "checkpoint.pt").exists()
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == saved["epoch"]


def test_an_out_dir_that_is_a_file_is_refused(tmp_path):
    data = synthetic_data()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="out_dir=.*is a file"):
        train_classifier(tiny_config(data), data, seed=0, out_dir=tmp_path / "file",
                         epochs=1, progress=False)


def test_the_per_epoch_learning_rate_decay_by_hand_and_in_the_optimiser(tmp_path):
    schedule = TrainConfig(lr=0.01, lr_decay=0.5, lr_decay_after=2)
    assert [schedule.lr_factor(e) for e in (1, 2, 3, 4, 5)] == [1, 1, 0.5, 0.25, 0.125]
    assert "lr_decay" not in TrainConfig().to_dict()  # old runs' identities unchanged
    data = synthetic_data()
    config = tiny_config(data, **RESUME_CONFIG)
    # A rate of ~1e-30 from epoch 2 on: Adam's steps are ~lr, so the weights stop moving.
    one = train_classifier(config, data, seed=2, progress=False,
                           train_config=replace(RESUME_TRAIN, epochs=1))
    frozen = train_classifier(config, data, seed=2, progress=False, train_config=replace(
        RESUME_TRAIN, epochs=3, lr_decay=1e-30, lr_decay_after=1))
    for (name, a), (_, b) in zip(one.model.state_dict().items(),
                                 frozen.model.state_dict().items()):
        assert torch.allclose(a, b, rtol=0, atol=1e-20), name
    # and a decayed run resumes on its schedule, bit for bit
    decayed = replace(RESUME_TRAIN, lr_decay=0.3, lr_decay_after=1)
    whole = train_classifier(config, data, seed=5, out_dir=tmp_path / "a",
                             train_config=decayed, progress=False)
    train_classifier(config, data, seed=5, out_dir=tmp_path / "b", progress=False,
                     train_config=replace(decayed, epochs=2))
    resumed = train_classifier(config, data, seed=5, out_dir=tmp_path / "b", resume=True,
                               train_config=decayed, progress=False)
    assert metrics_without_timing(resumed) == metrics_without_timing(whole)
    assert_same_weights(resumed.model, whole.model)
    with pytest.raises(ValueError, match="its train_config_without_epochs differs"):
        train_classifier(config, data, seed=5, out_dir=tmp_path / "b", resume=True,
                         train_config=replace(decayed, lr_decay=0.5), progress=False)
    with pytest.raises(ValueError, match=r"lr_decay must be a factor in \(0, 1\]"):
        TrainConfig(lr_decay=2.0)
    with pytest.raises(ValueError, match="lr_decay_after must be an int >= 0"):
        TrainConfig(lr_decay=0.5, lr_decay_after=-1)
