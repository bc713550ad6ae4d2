"""`rnnlab train / evaluate / predict`, invoked as a user would, on the bundled imdb-short."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnlab.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"
# Small everything, so one epoch over imdb-short takes about a second.
TINY = ["--vocab-size", "300", "--maxlen", "20", "--embedding", "5", "--hidden", "6",
        "--dense", "7", "--no-progress"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "x"
    threads = torch.get_num_threads()
    code = main(["train", "--data", "imdb-short", "--arch", "MS_RST_LSTM", "--epochs", "1",
                 "--seed", "0", "--out", str(out), "--threads", "1", *TINY])
    torch.set_num_threads(threads)  # --threads sets it for the whole (test) process
    assert code == 0
    return out


def test_train_writes_a_complete_run_directory(trained_run):
    assert {p.name for p in trained_run.iterdir()} == {
        "checkpoint.pt", "config.json", "metrics.json", "vocab.json"}
    metrics = json.loads((trained_run / "metrics.json").read_text())
    final = metrics["final"]
    assert 0.0 <= final["test_accuracy"] <= 1.0 and final["test_loss"] > 0
    assert metrics["epochs"][-1]["test_accuracy"] == final["test_accuracy"]
    config = json.loads((trained_run / "config.json").read_text())
    assert config["model"]["arrangement"] == "MS_RST_LSTM"
    assert config["model"]["num_layers"] == 2 and config["model"]["pooling"] == "mean"
    assert config["data"]["vocab_size"] == 300 and config["data"]["encoding"]["maxlen"] == 20


def test_evaluate_reproduces_the_test_metrics_of_training(trained_run, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(trained_run), "--data", "imdb-short", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    final = json.loads((trained_run / "metrics.json").read_text())["final"]
    assert result["examples"] == 2412
    assert result["accuracy"] == final["test_accuracy"]
    assert result["loss"] == pytest.approx(final["test_loss"], rel=1e-6)


def test_predict_prints_label_and_probability(trained_run, capsys):
    capsys.readouterr()
    assert main(["predict", str(trained_run), "a wonderful film", "dull and awful"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line, text in zip(lines, ["a wonderful film", "dull and awful"]):
        label, probability, preview = line.split("\t")
        assert label in ("neg", "pos") and 0.5 <= float(probability) <= 1.0
        assert preview == text


def test_console_script_predicts_from_a_subprocess(trained_run):
    env = {**os.environ, "PYTHONWARNINGS": "error", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "rnnlab", "predict", str(trained_run),
                           "great"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\t")[0] in ("neg", "pos")


def test_resume_continues_to_the_numbers_of_a_straight_run(tmp_path):
    args = ["train", "--data", "imdb-short", "--arch", "SS_RSF_GRU", "--masked", *TINY]
    assert main([*args, "--epochs", "1", "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--epochs", "2", "--out", str(tmp_path / "a"), "--resume"]) == 0
    assert main([*args, "--epochs", "2", "--out", str(tmp_path / "b")]) == 0

    def epochs(run):
        entries = json.loads((tmp_path / run / "metrics.json").read_text())["epochs"]
        return [{k: v for k, v in e.items() if k != "seconds"} for e in entries]

    assert epochs("a") == epochs("b")


def test_train_on_a_users_csv_with_overrides(tmp_path, capsys):
    out = tmp_path / "csv"
    code = main(["train", "--data", str(FIXTURES / "reviews.csv"), "--epochs", "1", "--out",
                 str(out), "--cell", "peephole", "--pooling", "max", "--masked",
                 "--valid-fraction", "0.2", *TINY])
    assert code == 0, capsys.readouterr().err
    model = json.loads((out / "config.json").read_text())["model"]
    assert (model["cell"], model["pooling"], model["masked"]) == ("peephole", "max", True)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--arch", "SS_RSF_biLSTM", "--out", "{tmp}/r"], "arrangement name"),
        (["train", "--text-field", "body", "--out", "{tmp}/r"], "--text-field apply to your own"),
        (["train", "--data", "{tmp}/missing.csv", "--out", "{tmp}/r"], "neither a dataset name"),
        (["evaluate", "{tmp}/nowhere", "--data", "imdb-short"], "does not exist"),
        (["predict", "{tmp}/nowhere", "text"], "does not exist"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, capsys, argv, message):
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_training_into_an_existing_run_without_resume_is_refused(trained_run, capsys):
    assert main(["train", "--epochs", "1", "--out", str(trained_run), *TINY]) == 2
    assert "--resume" in capsys.readouterr().err
