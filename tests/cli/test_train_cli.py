"""`rnnlab train / evaluate / predict`, invoked as a user would, on the bundled imdb-short."""

from __future__ import annotations

import json
import math
import os
import shutil
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
        "checkpoint.pt", "checkpoint.pt.sha256", "config.json", "metrics.json", "vocab.json"}
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


@pytest.mark.parametrize("bucketing", [[], ["--bucket-pool-batches", "3"]])
def test_resume_continues_to_the_numbers_of_a_straight_run(tmp_path, bucketing):
    args = ["train", "--data", "imdb-short", "--arch", "SS_RSF_GRU", "--masked", *TINY,
            *bucketing]
    assert main([*args, "--epochs", "1", "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--epochs", "2", "--out", str(tmp_path / "a"), "--resume"]) == 0
    assert main([*args, "--epochs", "2", "--out", str(tmp_path / "b")]) == 0

    def epochs(run):
        entries = json.loads((tmp_path / run / "metrics.json").read_text())["epochs"]
        return [{k: v for k, v in e.items() if k != "seconds"} for e in entries]

    assert epochs("a") == epochs("b")
    saved = json.loads((tmp_path / "a" / "config.json").read_text())
    assert saved["train"]["bucket_pool_batches"] == (3 if bucketing else 1)


def test_train_on_a_users_csv_with_overrides(tmp_path, capsys):
    out = tmp_path / "csv"
    code = main(["train", "--data", str(FIXTURES / "reviews.csv"), "--epochs", "1", "--out",
                 str(out), "--cell", "peephole", "--pooling", "max", "--masked",
                 "--recurrent-dropout", "0.25", "--weight-drop", "0.3",
                 "--valid-fraction", "0.2", *TINY])
    assert code == 0, capsys.readouterr().err
    model = json.loads((out / "config.json").read_text())["model"]
    assert (model["cell"], model["pooling"], model["masked"]) == ("peephole", "max", True)
    assert (model["recurrent_dropout"], model["weight_dropout"]) == (0.25, 0.3)


def test_csv_multiline_reads_texts_with_line_breaks_that_are_refused_without_it(
        tmp_path, capsys):
    rows = [f'"review {i}\nwith a second line",{"pos" if i % 2 else "neg"}' for i in range(30)]
    data = tmp_path / "multi.csv"
    data.write_text("text,label\n" + "\n".join(rows) + "\n")
    argv = ["train", "--data", str(data), "--epochs", "1", *TINY]
    assert main([*argv, "--out", str(tmp_path / "refused")]) == 2
    assert "line 2: a quoted field starts here and runs over 2 lines" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()
    assert main([*argv, "--csv-multiline", "--out", str(tmp_path / "read")]) == 0
    assert json.loads((tmp_path / "read" / "metrics.json").read_text())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--arch", "SS_RSF_biLSTM", "--out", "{tmp}/r"], "arrangement name"),
        (["train", "--text-field", "body", "--out", "{tmp}/r"], "--text-field apply to your own"),
        (["train", "--data", "{tmp}/missing.csv", "--out", "{tmp}/r"], "neither a dataset name"),
        (["evaluate", "{tmp}/nowhere", "--data", "imdb-short"], "does not exist"),
        (["predict", "{tmp}/nowhere", "text"], "does not exist"),
        (["train", "--weight-drop", "1", "--out", "{tmp}/r"],
         "weight_dropout must be in [0, 1), got 1.0"),
        (["train", "--lr-decay", "1.5", "--out", "{tmp}/r"],
         "lr_decay must be a factor in (0, 1] (1 = a constant rate), got 1.5"),
        (["train", "--lr-decay", "0.5", "--lr-decay-after", "-2", "--out", "{tmp}/r"],
         "lr_decay_after must be an int >= 0"),
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


def _strict_json(path: Path):
    """``path`` parsed as standard JSON: bare NaN or Infinity is an error, not a float."""
    def refuse(constant: str):
        raise ValueError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_a_damaged_checkpoint_is_refused_by_evaluate_and_resume(trained_run, tmp_path, capsys):
    run = tmp_path / "damaged"
    shutil.copytree(trained_run, run)
    checkpoint = run / "checkpoint.pt"
    data = bytearray(checkpoint.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = bytes(4096)  # the damage: 4 KB of zeros mid-file
    checkpoint.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", "imdb-short"]) == 2
    resumed = main(["train", "--arch", "MS_RST_LSTM", "--epochs", "2", "--out", str(run),
                    "--resume", *TINY])
    assert resumed == 2
    for err in capsys.readouterr().err.strip().splitlines():
        assert str(checkpoint) in err and "damaged" in err
        assert "delete the run directory" in err and "Traceback" not in err


def test_one_example_per_class_trains_and_reports_no_test_score(tmp_path, capsys):
    data = tmp_path / "two.csv"
    data.write_text("text,label\ngreat film,pos\nawful film,neg\n")
    out = tmp_path / "run"
    # both examples go to train: valid and test are empty, so there is nothing to score
    assert main(["train", "--data", str(data), "--epochs", "1", "--out", str(out), *TINY]) == 0
    captured = capsys.readouterr()
    assert "test: 0" in captured.out
    assert "test_accuracy n/a  test_loss n/a (the test split is empty)" in captured.out
    final = _strict_json(out / "metrics.json")["final"]
    assert final["test_accuracy"] is None and final["test_loss"] is None


def test_diverged_training_stops_with_a_clear_error(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--arch", "SS_RSF_LSTM", "--lr", "1e30", "--epochs", "2",
                 "--out", str(out), *TINY])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert "diverged" in err and "--lr" in err and "Traceback" not in err
    assert len(err.splitlines()) == 1
    for name in ("metrics.json", "config.json"):
        if (out / name).exists():
            document = _strict_json(out / name)
            assert all(math.isfinite(e["train_loss"]) for e in document.get("epochs", []))


@pytest.mark.parametrize("command", [["train", "--out", "{tmp}/r"], ["lm", "nextword"]])
def test_a_bucket_pool_below_one_is_a_usage_error_naming_the_option(tmp_path, capsys, command):
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in command]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--bucket-pool-batches", "0"])
    assert exited.value.code == 2
    assert "argument --bucket-pool-batches: must be an integer >= 1, got '0'" in (
        capsys.readouterr().err)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("argv", [
    ["train", "--threads", "-1", "--out", "{tmp}/r"],
    ["train", "--threads", "0", "--out", "{tmp}/r"],
    ["lm", "train", "--corpus", "{tmp}", "--threads", "-1"],
    ["lm", "eval", "{tmp}", "--threads", "-1"],
    ["lm", "nextword", "--threads", "0"],
    ["audit", "--model", "seed000", "--threads", "-1"],
    ["compare", "--profile", "quick", "--out", "{tmp}/r", "--threads", "-1"],
])
def test_threads_below_one_is_a_usage_error_in_every_command(tmp_path, capsys, argv):
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--threads" in err and "must be an integer >= 1" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_out_that_is_an_existing_file_is_one_clear_line(tmp_path, capsys):
    out = tmp_path / "taken.txt"
    out.write_text("not a directory")
    assert main(["train", "--epochs", "1", "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert "--out" in err and "is a file" in err and str(out) in err
    assert len(err.splitlines()) == 1
    assert out.read_text() == "not a directory"


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04\x14\x00"])
def test_an_unreadable_checkpoint_names_the_file(tmp_path, capsys, content):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(content)
    assert main(["evaluate", str(run), "--data", "imdb-short"]) == 2
    err = capsys.readouterr().err.strip()
    assert str(run / "checkpoint.pt") in err and len(err.splitlines()) == 1
    assert "Errno" not in err and "weights_only" not in err


def test_checkpoint_has_the_mode_of_its_siblings(trained_run):
    modes = {p.name: p.stat().st_mode & 0o777 for p in trained_run.iterdir()}
    assert len(set(modes.values())) == 1, modes
