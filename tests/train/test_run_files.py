"""``load_run`` reads any run directory: it tells classifier from language-model runs by what
the run saved, and names the directory and what it found when it is neither."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from rnnlab.data import LMCorpus, Vocab
from rnnlab.models.language_model import LanguageModelConfig
from rnnlab.train import (
    CheckpointError,
    SavedClassifierRun,
    SavedLMRun,
    SavedRun,
    load_checkpoint,
    load_run,
    save_checkpoint,
    train_classifier,
)
from rnnlab.train.lm_loop import LMTrainConfig
from rnnlab.train.lm_run import train_language_model
from rnnlab.train.run_files import dumps_json, write_json
from tests.train.helpers import synthetic_data, tiny_config

# The keys of one epoch in metrics.json and in the checkpoint, as every earlier version wrote
# them; changing them would break reading older runs.
CLASSIFIER_EPOCH_KEYS = ["epoch", "train_loss", "train_accuracy", "valid_loss",
                         "valid_accuracy", "test_loss", "test_accuracy", "seconds"]


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "classifier"
    data = synthetic_data()
    train_classifier(tiny_config(data), data, seed=0, out_dir=out, epochs=2, progress=False)
    return out


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "lm"
    vocab = Vocab(("<unk>", "<eos>", "a", "b", "c"), pad_token=None)
    ids = np.arange(80, dtype=np.int64) % 3 + 2
    corpus = LMCorpus(ids[:60], ids[:20], ids[:20], vocab)
    train_language_model(corpus, LanguageModelConfig(vocab_size=5, hidden_size=4),
                         LMTrainConfig(batch_size=2, bptt=5, epochs=2, eval_batch_size=2),
                         out, progress=False, log=lambda _: None)
    return out


def test_a_classifier_run_loads_as_a_saved_classifier_run(classifier_dir):
    run = load_run(classifier_dir)
    assert isinstance(run, SavedClassifierRun) and isinstance(run, SavedRun)
    assert run.kind == "classifier" and run.run_dir == classifier_dir and run.epoch == 2
    assert not run.model.training and run.label_names == ("neg", "pos")
    metrics = json.loads((classifier_dir / "metrics.json").read_text())
    assert [m.to_dict() for m in run.history] == metrics["epochs"]


def test_a_language_model_run_loads_as_a_saved_lm_run(lm_dir):
    run = load_run(lm_dir)
    assert isinstance(run, SavedLMRun) and isinstance(run, SavedRun)
    assert run.kind == "language_model" and run.epoch == 2 and len(run.vocab) == 5
    assert not run.model.training and run.train_config.bptt == 5
    history = json.loads((lm_dir / "history.json").read_text())
    assert [m.to_dict() for m in run.history] == history["epochs"]


def test_epoch_records_keep_the_keys_earlier_versions_wrote(classifier_dir):
    metrics = json.loads((classifier_dir / "metrics.json").read_text())
    assert [list(epoch) for epoch in metrics["epochs"]] == [CLASSIFIER_EPOCH_KEYS] * 2
    payload = load_checkpoint(classifier_dir / "checkpoint.pt")
    assert [list(epoch) for epoch in payload["metrics"]] == [CLASSIFIER_EPOCH_KEYS] * 2


def test_asking_for_the_other_kind_names_what_the_directory_holds(classifier_dir, lm_dir):
    assert isinstance(load_run(lm_dir, "language_model"), SavedLMRun)
    with pytest.raises(CheckpointError, match=re.escape(
            f"{lm_dir} holds a language-model run (`rnnlab lm train`), not a classifier run")):
        load_run(lm_dir, "classifier")
    with pytest.raises(CheckpointError, match=re.escape(
            f"{classifier_dir} holds a classifier run (`rnnlab train`), not a language-model")):
        load_run(classifier_dir, "language_model")


def test_an_unknown_kind_is_rejected_before_reading(tmp_path):
    with pytest.raises(ValueError, match=r"kind must be one of \['classifier', "
                                         r"'language_model'\] or None, got 'lm'"):
        load_run(tmp_path / "nowhere", "lm")


def test_a_directory_without_a_checkpoint_lists_what_it_found(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match=re.escape(
            f"{tmp_path} holds no run: no checkpoint.pt (found ['notes.txt'])")):
        load_run(tmp_path)


def test_a_checkpoint_of_an_unknown_kind_names_its_format(tmp_path):
    save_checkpoint(tmp_path / "checkpoint.pt", {"format": "someone-else/3", "model": {}})
    with pytest.raises(CheckpointError, match="neither a classifier nor a language-model run: "
                                              "format 'someone-else/3'"):
        load_run(tmp_path)


def test_a_missing_directory_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_run(tmp_path / "nowhere")


def test_loading_refuses_pickled_code(tmp_path):
    torch.save({"format": "rnnlab.lm/1", "module": torch.nn.Linear(2, 2)},
               tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="could not read checkpoint"):
        load_run(tmp_path)  # weights_only=True: a pickled module is refused, never run


def test_json_files_are_standard_json_with_null_for_nan_and_infinity(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"loss": float("nan"), "rows": [float("inf"), -float("inf"), 0.5],
                      "nested": {"ppl": (float("nan"), 1)}})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"loss": None, "rows": [None, None, 0.5],
                                "nested": {"ppl": [None, 1]}}
    assert dumps_json({"x": float("nan")}) == '{"x": null}'
