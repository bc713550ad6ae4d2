"""Study files are validated whole at load, before anything is written (issue 14, items 3, 10).

Every case is a clear error that is a ``ValueError`` naming the file and the key, and the
CLI prints it in one line with exit code 2: never a traceback, never a store left behind.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from rnnlab.cli import main
from rnnlab.experiments.study import StudyConfig, StudyFileError, load_study_file

BASE = {"name": "checked", "dataset": "reviews.csv", "arrangements": ["SS_RSF_LSTM"],
        "runs": 2, "epochs": 1}

# (what the study file changes, the key the error must name)
BAD_STUDIES = [
    ({"training": {"lrr": 0.1}}, "lrr"),
    ({"training": {"lr": "0.1"}}, "training.lr"),
    ({"training": {"lr": 1e300}}, "training.lr"),
    ({"training": {"lr": math.nan}}, "training.lr"),
    ({"training": {"lr": -1.0}}, "training.lr"),
    ({"training": {"betas": [0.9]}}, "training.betas"),
    ({"training": {"batch_size": 0}}, "batch_size"),
    ({"training": {"epochs": 3}}, "training.epochs"),
    ({"training": "fast"}, "training"),
    ({"base_seed": -5}, "base_seed"),
    ({"base_seed": 2**70}, "base_seed"),
    ({"base_seed": 1.5}, "base_seed"),
    ({"seeds": [1, "2"]}, "seeds"),
    ({"seeds": [1, -2]}, "seeds"),
    ({"maxlen": 10**9}, "maxlen"),
    ({"vocab_size": 10**12}, "vocab_size"),
    ({"runs": 10**9}, "runs"),
    ({"runs": True}, "runs"),
    ({"runs": "3"}, "runs"),
    ({"epochs": 2.5}, "epochs"),
    ({"model": {"bidirectional": "false"}}, "model.bidirectional"),
    ({"model": {"dropout": "0.5"}}, "model.dropout"),
    ({"model": {"dropout": 1.5}}, "dropout"),
    ({"model": {"hidden_size": True}}, "model.hidden_size"),
    ({"model": {"hidden_size": 10**9}}, "model.hidden_size"),
    ({"model": {"cell": "nope"}}, "cell"),
    ({"model": {"hiden_size": 4}}, "hiden_size"),
    ({"model": [1, 2]}, "model"),
    ({"arrangements": 5}, "arrangements"),
    ({"arrangements": ["SS_RSF_LSTM", 3]}, "arrangements"),
    ({"arrangements": ["NOPE"]}, "arrangement"),
    ({"masked": "yes"}, "masked"),
    ({"masked": [True, "no"]}, "masked"),
    ({"padding": "left"}, "padding"),
    ({"dataset": ""}, "dataset"),
    ({"dataset": 7}, "dataset"),
    ({"data_options": "x"}, "data_options"),
    ({"epocs": 3}, "epocs"),
]


def _write(path: Path, changes: dict) -> Path:
    path.write_text(json.dumps({**BASE, **changes}), encoding="utf-8")
    return path


@pytest.mark.parametrize(("changes", "key"), BAD_STUDIES,
                         ids=[json.dumps(c)[:40] for c, _ in BAD_STUDIES])
def test_bad_study_file_is_a_clear_error_naming_the_file_and_key(
        changes, key, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "study.json", changes)
    with pytest.raises(StudyFileError) as raised:
        load_study_file(path)
    assert isinstance(raised.value, ValueError)
    message = str(raised.value)
    assert str(path) in message and key in message, message
    assert main(["compare", "--study", str(path), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert key in error and str(path) in error and "Traceback" not in error, error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.json"]  # nothing written


@pytest.mark.parametrize("text", ['training = "fast"\n', "[training]\nlr = nan\n",
                                  "[training]\nlearning_rate = 0.1\n", "runs = true\n",
                                  "name = \n"])
def test_bad_toml_study_is_a_clear_error_from_the_command_line(text, tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('dataset = "reviews.csv"\n' + text, encoding="utf-8")
    finished = subprocess.run([sys.executable, "-m", "rnnlab", "compare", "--study", str(path)],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert finished.returncode == 2, finished.stderr
    assert str(path) in finished.stderr and "Traceback" not in finished.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.toml"]


def test_command_line_overrides_are_validated_before_anything_is_written(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "study.json", {})
    assert main(["compare", "--study", str(path), "--runs", str(10**9)]) == 2
    assert "runs" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.json"]


def test_a_valid_study_file_still_loads(tmp_path):
    study = load_study_file(_write(tmp_path / "study.json", {
        "training": {"lr": 0.01, "betas": [0.8, 0.9]}, "model": {"bidirectional": True},
        "seeds": [3, 4], "masked": [False, True]}))
    assert study.training == {"lr": 0.01, "betas": [0.8, 0.9]} and study.seeds == (3, 4)


# -- 3. the study name is a slug, never a path ------------------------------------------------
@pytest.mark.parametrize("name", ["../../../escaped", "..", ".", "", "/tmp/absolute",
                                  "a/b", "a\\b", "with space", "-leading", "x" * 101, 7])
def test_study_name_must_be_a_safe_slug_and_nothing_is_written(name, tmp_path, monkeypatch,
                                                               capsys):
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    path = _write(work / "study.json", {"name": name})
    assert main(["compare", "--study", str(path), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "name" in error and "letters, digits" in error and "Traceback" not in error, error
    assert sorted(p.name for p in work.iterdir()) == ["study.json"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "c", "study.json"]
    with pytest.raises(ValueError, match="letters, digits"):
        StudyConfig(name=name)


@pytest.mark.parametrize("name", ["seed002-full", "my_study.v2", "A1"])
def test_ordinary_study_names_are_accepted(name):
    assert StudyConfig(name=name).name == name
