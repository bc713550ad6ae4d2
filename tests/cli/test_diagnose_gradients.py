"""``rnnlab diagnose gradients`` as a user runs it: the table, the files, runs, bad input."""

from __future__ import annotations

import csv
import json
import re

import pytest
import torch

from rnnlab.cli import main
from tests.cli.helpers import train_tiny_lm_run

SMALL = ["--batch", "3", "--time", "12", "--input", "5", "--hidden", "6"]
FILES = {"gradient_flow.png", "gradient_flow_decay.csv", "gradient_flow_curves.csv",
         "gradient_flow.json"}


def test_cells_at_init_and_trained_print_the_decay_table_and_write_every_file(tmp_path, capsys):
    out = tmp_path / "gf"
    assert main(["diagnose", "gradients", "--cell", "rnn,gru,lstm", *SMALL,
                 "--trained-steps", "2", "--seeds", "0,1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "gradient flow (hidden): adding problem, batch 3, time 12" in printed
    for cell in ("rnn_tanh", "gru", "lstm"):
        assert re.search(rf"^{cell} +init +2 +-0\.\d+ \[", printed, re.MULTILINE)
        assert re.search(rf"^{cell} +trained \(2 steps\) +2 ", printed, re.MULTILINE)
    assert "decay/step" in printed and "lag<1e-3" in printed
    assert {path.name for path in out.iterdir()} == FILES
    assert (out / "gradient_flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "gradient_flow.json").read_text(encoding="utf-8"))
    assert report["command"].startswith("rnnlab diagnose gradients --cell rnn,gru,lstm")
    assert len(report["measurements"]) == 3 * 2 * 2  # cells × seeds × stages
    with (out / "gradient_flow_decay.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    hidden = [row for row in rows if row["quantity"] == "hidden"]
    assert {(row["model"], row["stage"]) for row in hidden} == {
        (cell, stage) for cell in ("rnn_tanh", "gru", "lstm") for stage in ("init", "trained")}
    assert all(float(row["decay_rate"]) < 0 for row in hidden)
    with (out / "gradient_flow_curves.csv").open() as stream:
        curves = list(csv.DictReader(stream))
    assert {int(row["lag"]) for row in curves} == set(range(12))


def test_a_user_cell_given_by_its_import_path(capsys):
    assert main(["diagnose", "gradients", "--cell",
                 "tests.diagnostics.test_gradient_flow:LinearCell", *SMALL]) == 0
    printed = capsys.readouterr().out
    # h' = W x + 0.8 h: the decay rate is ln 0.8 = -0.2231 per step, factor 0.8
    assert "-0.2231" in printed and "0.8000" in printed


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "clf"
    threads = torch.get_num_threads()
    code = main(["train", "--data", "imdb-short", "--arch", "SS_RSF_LSTM", "--epochs", "1",
                 "--seed", "0", "--out", str(out), "--threads", "1", "--vocab-size", "300",
                 "--maxlen", "20", "--embedding", "5", "--hidden", "6", "--dense", "7",
                 "--no-progress"])
    torch.set_num_threads(threads)
    assert code == 0
    return out


def test_a_classifier_run_is_measured_at_init_and_trained_on_its_data(classifier_run, tmp_path,
                                                                     capsys):
    capsys.readouterr()
    assert main(["diagnose", "gradients", str(classifier_run), "--batch", "4",
                 "--out", str(tmp_path / "gf")]) == 0
    printed = capsys.readouterr().out
    assert f"run {classifier_run}, 4 sequences × 20" in printed
    assert re.search(r"^clf +init +1 ", printed, re.MULTILINE)
    assert re.search(r"^clf +trained \(1 epoch\) +1 ", printed, re.MULTILINE)
    report = json.loads((tmp_path / "gf" / "gradient_flow.json").read_text(encoding="utf-8"))
    assert [m["stage"] for m in report["measurements"]] == ["init", "trained"]


def test_a_language_model_run_is_measured_on_its_corpus(tmp_path, capsys):
    run_dir = train_tiny_lm_run(tmp_path, held_out_repeats=3)
    capsys.readouterr()
    assert main(["diagnose", "gradients", str(run_dir), "--batch", "3", "--time", "10"]) == 0
    printed = capsys.readouterr().out
    assert "3 sequences × 10" in printed and "rnn 0 forward" in printed
    assert "rnn 1 forward" in printed  # the preset's two layers, each its own row


@pytest.mark.parametrize("args,message", [
    ([], "give either --cell CELLS"),
    (["--cell", "lstm", "runs/x"], "not both or neither"),
    (["--cell", "lstn"], "unknown cell 'lstn'"),
    (["--cell", "nosuchmodule:Cell"], "cannot import 'nosuchmodule'"),
    (["--cell", "lstm", "--time", "1"], "--time must be >= 2"),
    (["--cell", "lstm", "--seeds", "a,b"], "--seeds must be comma-separated integers"),
    (["--cell", "lstm", "--trained-steps", "-1"], "--trained-steps must be >= 0"),
    (["--cell", "lstm", "--data", "imdb-short"], "--data applies to a classifier RUN_DIR"),
])
def test_bad_arguments_are_one_clear_error(args, message, capsys):
    assert main(["diagnose", "gradients", *args]) == 2
    assert message in capsys.readouterr().err


def test_a_run_directory_without_a_checkpoint_is_a_clear_error_and_writes_nothing(tmp_path,
                                                                                  capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no run here")
    out = tmp_path / "gf"
    assert main(["diagnose", "gradients", str(empty), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "holds no run: no checkpoint.pt" in error and "notes.txt" in error
    assert not out.exists()
    assert main(["diagnose", "gradients", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_options_of_the_other_mode_are_refused(classifier_run, capsys):
    assert main(["diagnose", "gradients", str(classifier_run), "--trained-steps", "5"]) == 2
    assert "--trained-steps applies to --cell" in capsys.readouterr().err
    assert main(["diagnose", "gradients", str(classifier_run), "--time", "50"]) == 2
    assert "--time does not apply to a classifier run" in capsys.readouterr().err


def test_several_runs_share_one_table_and_runs_of_one_name_are_told_apart_by_path(
        classifier_run, capsys):
    capsys.readouterr()
    assert main(["diagnose", "gradients", str(classifier_run), str(classifier_run),
                 "--batch", "2"]) == 0
    printed = capsys.readouterr().out
    assert printed.count(f"\n{classifier_run}  ") == 2  # init and trained, labelled by path
