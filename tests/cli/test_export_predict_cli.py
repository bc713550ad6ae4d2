"""`rnnlab export` and `rnnlab predict --model`, invoked as a user would."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from rnnlab.cli import main

pytestmark = pytest.mark.slow

TINY = ["--vocab-size", "300", "--maxlen", "20", "--embedding", "5", "--hidden", "6",
        "--dense", "7", "--no-progress", "--epochs", "1", "--seed", "0", "--threads", "1"]


def _train(out, *options) -> None:
    threads = torch.get_num_threads()
    code = main(["train", "--data", "imdb-short", *options, "--out", str(out), *TINY])
    torch.set_num_threads(threads)  # --threads sets it for the whole (test) process
    assert code == 0


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-export")
    _train(root / "run", "--arch", "SS_RST_LSTM")  # unmasked: time stays dynamic
    assert main(["export", str(root / "run"), "--format", "onnx", "--out",
                 str(root / "export"), "--threads", "1"]) == 0
    torch.set_num_threads(1)
    return root


def test_export_writes_the_model_and_every_sidecar(exported, capsys):
    files = {p.name for p in (exported / "export").iterdir()}
    assert files == {"model.onnx", "bundle.json", "vocab.json", "labels.json",
                     "tokenizer.json", "config.json"}
    manifest = json.loads((exported / "export" / "bundle.json").read_text())
    assert manifest["kind"] == "classifier" and manifest["time"] is None
    assert manifest["validation"]["max_abs_diff"] <= 1e-5
    assert 1 in manifest["validation"]["lengths"][0] and 20 in manifest["validation"]["lengths"][0]
    assert json.loads((exported / "export" / "labels.json").read_text()) == {
        "labels": ["neg", "pos"]}


def test_predict_with_a_model_prints_what_the_run_predicts(exported, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("a wonderful film\n\ndull and awful\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["predict", "--model", str(exported / "export"), "--file", str(texts)]) == 0
    from_export = capsys.readouterr().out.strip().splitlines()
    assert main(["predict", str(exported / "run"), "a wonderful film", "dull and awful"]) == 0
    from_run = capsys.readouterr().out.strip().splitlines()
    assert len(from_export) == 2  # the blank line is skipped
    for mine, theirs in zip(from_export, from_run, strict=True):
        label, probability, preview = mine.split("\t")
        run_label, run_probability, run_preview = theirs.split("\t")
        assert (label, preview) == (run_label, run_preview)
        assert float(probability) == pytest.approx(float(run_probability), abs=2e-4)


def test_bad_input_is_one_clear_line(exported, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    incomplete = tmp_path / "incomplete"
    shutil.copytree(exported / "export", incomplete)
    (incomplete / "vocab.json").unlink()
    _train(tmp_path / "peephole", "--arch", "SS_RSF_LSTM", "--cell", "peephole")
    cases = [
        (["export", str(tmp_path / "empty"), "--out", str(tmp_path / "x")],
         "holds no run: no checkpoint.pt"),
        (["export", str(tmp_path / "peephole"), "--out", str(tmp_path / "x")],
         "--format onnx cannot export cell 'peephole': ONNX has no operator for it"),
        (["predict", "--model", str(incomplete), "text"], "has no vocab.json"),
        (["predict", "--model", str(exported / "export")], "no texts to predict"),
        (["predict", "--model", str(exported / "export"), "--file", str(tmp_path / "no.txt")],
         "--file"),
    ]
    for argv, message in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (argv, err)
    assert not (tmp_path / "x").exists()
