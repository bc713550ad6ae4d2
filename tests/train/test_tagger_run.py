"""The tagger run: resumes exactly, refuses what it cannot continue, writes its report."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from rnnlab.train.checkpoint import CheckpointError
from rnnlab.train.tagger_eval import load_tagger_run, tag_sentences
from rnnlab.train.tagger_run import TAGGER_TRAINING, train_tagger
from tests.models.tagging_grammar import grammar_dataset

OPTIONS = {"word_embedding_size": 6, "char_embedding_size": 4, "char_size": 5,
           "hidden_size": 7, "dropout": 0.2}
TRAINING = replace(TAGGER_TRAINING, epochs=3, batch_size=8, lr=0.02, patience=None)


def small_data():
    return grammar_dataset(train=40, valid=8, test=8)


def train(out_dir, epochs: int, resume: bool = False, **changes):
    return train_tagger(small_data(), out_dir=out_dir, seed=4, model_options=OPTIONS,
                        train_config=replace(TRAINING, epochs=epochs, **changes),
                        resume=resume, progress=False)


def test_a_resumed_run_ends_exactly_where_an_uninterrupted_one_does(tmp_path):
    straight = train(tmp_path / "straight", epochs=3)
    train(tmp_path / "split", epochs=1)
    resumed = train(tmp_path / "split", epochs=3, resume=True)
    assert resumed.resumed_from == 1
    assert [m.to_dict() | {"seconds": 0} for m in resumed.history] == \
        [m.to_dict() | {"seconds": 0} for m in straight.history]
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name


def test_the_run_directory_holds_checkpoint_vocab_config_metrics_and_report(tmp_path):
    result = train(tmp_path / "run", epochs=2)
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"checkpoint.pt", "checkpoint.pt.sha256", "config.json", "vocab.json", "chars.json",
            "metrics.json", "report.md", "report.json"} <= names
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(metrics["epochs"]) == 2 and metrics["final"]["epoch"] == result.final.epoch
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["tagger"]["accuracy"] == pytest.approx(result.final.test_accuracy)
    assert "| all | " in (tmp_path / "run" / "report.md").read_text()


def test_a_loaded_run_tags_like_the_trained_model(tmp_path):
    result = train(tmp_path / "run", epochs=2)
    run = load_tagger_run(tmp_path / "run")
    sentence = ["the", "dog", "can", "a", "fly"]
    tags = tag_sentences(run, [sentence])
    assert len(tags[0]) == len(sentence) and set(tags[0]) <= set(run.vocabs.tags)
    for name, value in result.model.state_dict().items():
        assert torch.equal(value, run.model.state_dict()[name])


def test_an_existing_run_is_not_overwritten_without_resume(tmp_path):
    train(tmp_path / "run", epochs=1)
    with pytest.raises(ValueError, match="already holds a run .*pass --resume"):
        train(tmp_path / "run", epochs=2)


def test_resuming_with_other_options_is_refused(tmp_path):
    train(tmp_path / "run", epochs=1)
    with pytest.raises(ValueError, match="train_config_without_epochs differs"):
        train(tmp_path / "run", epochs=2, resume=True, lr=0.5)


def test_a_directory_without_checkpoint_names_the_fix(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no checkpoint.pt .*rnnlab tag train --out"):
        load_tagger_run(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_tagger_run(tmp_path / "missing")


def test_same_seed_same_numbers(tmp_path):
    first = train(None, epochs=1)
    second = train(None, epochs=1)
    assert first.final.test_loss == second.final.test_loss
    assert np.isfinite(first.final.train_loss)
