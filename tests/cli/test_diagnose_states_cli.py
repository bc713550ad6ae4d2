"""``rnnlab diagnose states`` as a user runs it: the files it writes, what it prints, and
bad input (a text the run cannot read, no checkpoint, a pattern that never matches), each a
clear error naming the argument, with nothing written."""

from __future__ import annotations

import csv

import pytest

from rnnlab.cli import main
from tests.cli.helpers import expect_usage_error
from tests.diagnostics.planted import PLANTED_UNIT, QUOTE_PATTERN, QUOTED_TEXT
from tests.diagnostics.runs import classifier_run, planted_lm_run


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return planted_lm_run(tmp_path_factory.mktemp("runs") / "planted")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return classifier_run(tmp_path_factory.mktemp("runs") / "classifier")


def test_writes_the_explorer_heatmap_and_ranking_and_names_the_quote_unit(planted, tmp_path,
                                                                          capsys):
    out = tmp_path / "states"
    code = main(["diagnose", "states", str(planted), "--text", QUOTED_TEXT,
                 "--pattern", QUOTE_PATTERN, "--out", str(out),
                 "--lstmvis", str(tmp_path / "lstmvis" / "planted")])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"rnn layer 0 forward: unit {PLANTED_UNIT} 1.000" in printed
    assert sorted(p.name for p in out.iterdir()) == ["explorer.html", "heatmap.png",
                                                     "units.csv"]
    page = (out / "explorer.html").read_text(encoding="utf-8")
    assert "explorer-data" in page and "http" not in page.split("<style>")[1]
    assert (out / "heatmap.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((out / "units.csv").read_text(encoding="utf-8").splitlines()))
    best = next(row for row in rows if row["kind"] == "h" and row["rank"] == "1")
    assert best["unit"] == str(PLANTED_UNIT) and float(best["auroc"]) == 1.0
    assert {row["kind"] for row in rows} == {"h", "c", "input", "forget", "output", "candidate"}
    assert (tmp_path / "lstmvis" / "planted" / "lstm.yml").is_file()


def test_a_file_a_track_and_a_gate_heatmap(planted, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text('a "b" c', encoding="utf-8")
    track = tmp_path / "track.txt"
    track.write_text("0 0 1 1 1 0 0", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["diagnose", "states", str(planted), "--file", str(text), "--track", str(track),
                 "--kind", "forget", "--direction", "rnn layer 0 forward",
                 "--out", str(out)]) == 0
    assert "on 7 tokens" in capsys.readouterr().out
    assert (out / "units.csv").is_file()


def test_without_a_pattern_there_is_no_ranking(classifier, tmp_path, capsys):
    out = tmp_path / "out"
    (tmp_path / "out").mkdir()
    (out / "units.csv").write_text("stale")  # from an earlier pattern: must not survive
    assert main(["diagnose", "states", str(classifier), "--text", "the film was great",
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["explorer.html", "heatmap.png"]
    assert "recurrent layer 1 forward (LSTMCell)" in capsys.readouterr().out


def run_and_expect_error(args, message, capsys, tmp_path):
    return expect_usage_error(["diagnose", "states", *args], message, capsys,
                              tmp_path / "never")


def test_a_text_with_no_known_token_names_the_argument(planted, classifier, tmp_path, capsys):
    error = run_and_expect_error([str(planted), "--text", "XYZ123"],
                                 "--text: none of its 6 character token(s) is in the run's "
                                 "vocabulary", capsys, tmp_path)
    assert "give a text in the language of the run's training data" in error
    text = tmp_path / "t.txt"
    text.write_text("zebra quagga", encoding="utf-8")
    run_and_expect_error([str(classifier), "--file", str(text)], "--file: none of its 2 word",
                         capsys, tmp_path)


def test_a_run_dir_without_a_checkpoint_names_the_argument_and_the_fix(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    error = run_and_expect_error([str(empty), "--text", "the film"], f"RUN_DIR {str(empty)!r}",
                                 capsys, tmp_path)
    assert "no checkpoint.pt" in error and "pass the --out directory" in error
    run_and_expect_error([str(tmp_path / "missing"), "--text", "x"], "does not exist", capsys,
                         tmp_path)


@pytest.mark.parametrize("pattern, message", [
    ("q", "--pattern 'q' never matches the 107 tokens of --text"),
    (".", "--pattern '.' matches every one of the 107 tokens"),
    ("(", "--pattern '(' is not a valid regular expression"),
])
def test_a_pattern_that_cannot_rank_is_refused(planted, pattern, message, tmp_path, capsys):
    run_and_expect_error([str(planted), "--text", QUOTED_TEXT, "--pattern", pattern], message,
                         capsys, tmp_path)


def test_other_bad_input_is_named(planted, tmp_path, capsys):
    track = tmp_path / "track.txt"
    track.write_text("0 1", encoding="utf-8")
    run_and_expect_error([str(planted), "--text", "abc", "--track", str(track)],
                         "--track", capsys, tmp_path)
    run_and_expect_error([str(planted), "--text", "abc", "--kind", "update"],
                         "--kind 'update'", capsys, tmp_path)
    run_and_expect_error([str(planted), "--text", "abc", "--direction", "3"],
                         "--direction 3 is out of range", capsys, tmp_path)
    run_and_expect_error([str(planted), "--file", str(tmp_path / "none.txt")],
                         "--file", capsys, tmp_path)


def test_text_and_file_are_exclusive_and_one_is_required(planted, capsys):
    with pytest.raises(SystemExit):
        main(["diagnose", "states", str(planted)])
    assert "one of the arguments --text --file is required" in capsys.readouterr().err
