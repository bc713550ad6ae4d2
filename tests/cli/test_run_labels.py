"""Issue 14: every run is labelled by what it trains, in run files, the store and the report,
and a label never changes a run's key (old stores read back and resume unchanged)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from rnnlab.cli import main
from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.study import StudyConfig, expand_runs
from rnnlab.models import ClassifierConfig
from rnnlab.models.arrangements import label_of_model_config, model_label

from ..experiments.fake_study import study_specs
from ..experiments.test_runner import TINY_MODEL, _write_reviews

TINY = ["--vocab-size", "60", "--maxlen", "8", "--embedding", "3", "--hidden", "4",
        "--dense", "0", "--epochs", "1", "--no-progress", "--threads", "1"]
# ClassifierConfig.to_dict()'s keys when stores were first written: the study's run configs
# (and so every stored config_json) must keep exactly these, or old studies stop matching.
STORED_MODEL_KEYS = {
    "vocab_size", "num_classes", "embedding_size", "cell", "hidden_size", "num_layers",
    "bidirectional", "pooling", "dense_size", "dense_activation", "dropout",
    "embedding_dropout", "pooled_dropout", "masked", "padding", "init", "arrangement"}


def test_train_with_custom_model_options_reports_and_saves_its_own_label(tmp_path, capsys):
    data = _write_reviews(tmp_path / "reviews.csv")
    out = tmp_path / "run"
    code = main(["train", "--data", str(data), "--cell", "peephole", "--layers", "3",
                 "--bidirectional", "--pooling", "max", "--out", str(out), *TINY])
    assert code == 0
    label = "SS_RSF_LSTM+peephole+3layers+bidirectional+maxpool"
    assert f"model: {label} cell=peephole layers=3" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["label"] == label
    assert config["model"]["arrangement"] == "SS_RSF_LSTM"  # what it was built from


def test_a_seed_arrangement_keeps_its_plain_name(tmp_path, capsys):
    data = _write_reviews(tmp_path / "reviews.csv")
    assert main(["train", "--data", str(data), "--arch", "MS_RST_biGRU", "--out",
                 str(tmp_path / "run"), *TINY]) == 0
    assert "model: MS_RST_biGRU cell=gru" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "config.json").read_text())["label"] == "MS_RST_biGRU"


@pytest.mark.parametrize("arrangement, changes, label", [
    ("MS_RST_biGRU", {"cell": "layernorm"}, "MS_RST_biGRU+layernorm"),
    ("MS_RSF_LSTM", {"num_layers": 4}, "MS_RSF_LSTM+4layers"),
    ("MS_RST_biLSTM", {"bidirectional": False}, "MS_RST_biLSTM+unidirectional"),
    ("SS_RST_GRU", {"pooling": "last"}, "SS_RST_GRU+lastpool"),
    ("SS_RSF_LSTM", {"hidden_size": 7, "dropout": 0.1}, "SS_RSF_LSTM"),  # sizes: same model
])
def test_the_label_names_every_structural_change(arrangement, changes, label):
    config = ClassifierConfig.from_arrangement(arrangement, vocab_size=10, **changes)
    assert config.label == label
    assert label_of_model_config(config.to_dict(), fallback="?") == label


def test_a_config_without_an_arrangement_gets_a_generated_name():
    assert ClassifierConfig(cell="gru", num_layers=2).label == "GRUx2_last"
    assert model_label(None, cell="lstm", num_layers=1, bidirectional=True,
                       pooling="mean") == "biLSTMx1_mean"


def test_store_rows_without_a_classifier_config_keep_the_arrangement_as_label(tmp_path):
    with ResultStore(tmp_path / "results.sqlite") as store:
        study_id = store.ensure_study("fake", {"kind": "fake"})
        store.add_runs(study_id, study_specs(1, arrangements=("MS_RST_GRU",)))
        (run,) = store.runs(study_id)
    assert run.label == "MS_RST_GRU"


def test_study_run_configs_keep_the_keys_old_stores_hold():
    study = StudyConfig(name="keys", arrangements=("MS_RST_biGRU",), runs=1, epochs=1,
                        model={"cell": "layernorm"})
    (spec,) = expand_runs(study, vocab_size=20, num_classes=2)
    assert set(spec.config["model"]) == STORED_MODEL_KEYS
    assert spec.arrangement == "MS_RST_biGRU"  # the key, as before labels existed


def test_a_layernorm_study_is_labelled_in_progress_store_and_report_and_resumes_as_is(
        tmp_path, capsys):
    data = _write_reviews(tmp_path / "reviews.csv")
    study = StudyConfig(name="ln", dataset=str(data), arrangements=("MS_RST_biGRU",), runs=1,
                        epochs=1, vocab_size=20, maxlen=8,
                        model={**TINY_MODEL, "cell": "layernorm"})
    study_file = tmp_path / "study.json"
    study_file.write_text(json.dumps(study.to_dict()))
    argv = ["compare", "--study", str(study_file), "--out", str(tmp_path / "s"),
            "--no-progress", "--jobs", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr()
    # --no-progress hides the bar, not the per-run result line
    assert "[1/1] MS_RST_biGRU+layernorm run 0: test accuracy" in printed.err
    report = (tmp_path / "s" / "report" / "report.md").read_text()
    assert "`MS_RST_biGRU+layernorm`" in report and "`MS_RST_biGRU`" not in report
    with ResultStore(tmp_path / "s" / "results.sqlite") as store:
        (run,) = store.runs(store.studies()[0].id)
    assert (run.arrangement, run.label, run.attempts) == (
        "MS_RST_biGRU", "MS_RST_biGRU+layernorm", 1)
    assert set(run.config["model"]) == STORED_MODEL_KEYS  # no label column or key stored
    # the same study again: the stored run matches and is not trained again
    assert main(argv) == 0
    assert "runs: 1 done" in capsys.readouterr().out
    with ResultStore(tmp_path / "s" / "results.sqlite") as store:
        (again,) = store.runs(store.studies()[0].id)
    assert dataclasses.replace(again, wall_seconds=None) == dataclasses.replace(
        run, wall_seconds=None)


def test_compare_header_counts_every_condition_and_run(tmp_path, monkeypatch, capsys):
    from rnnlab.experiments import runner

    def no_training(study, study_dir, **_):
        raise runner.StudyInterruptedError(Path(study_dir), None)

    monkeypatch.setattr(runner, "run_study", no_training)
    study = StudyConfig(name="count", arrangements=("SS_RSF_LSTM", "MS_RST_GRU"), runs=3,
                        epochs=2, masked=(False, True))
    study_file = tmp_path / "study.json"
    study_file.write_text(json.dumps(study.to_dict()))
    assert main(["compare", "--study", str(study_file), "--out", str(tmp_path / "s"),
                 "--no-progress"]) == 130
    assert ("study 'count': 4 arrangement conditions × 3 run(s) = 12 runs × 2 epochs"
            in capsys.readouterr().out)
