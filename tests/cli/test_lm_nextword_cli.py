"""``rnnlab lm nextword --out`` and ``rnnlab audit RUN_DIR`` as a user runs them: a run that
resumes, ends with the leak verdict, and is audited again, leaky and fixed."""

from __future__ import annotations

import json

import pytest

from rnnlab.cli import main
from tests.train.nextword_helpers import write_texts

TINY = ["--vocab-size", "30", "--max-tokens", "8", "--embedding-size", "5", "--hidden-size",
        "16", "--batch-size", "8", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    return write_texts(tmp_path_factory.mktemp("texts") / "texts.txt")


def train(texts, out, *extra: str) -> int:
    return main(["lm", "nextword", "--data", str(texts), "--out", str(out), *TINY, *extra])


def test_a_fixed_run_passes_its_audit_and_rnnlab_audit_agrees(texts, tmp_path, capsys):
    assert train(texts, tmp_path / "fixed", "--epochs", "1", "--softmax", "adaptive") == 0
    printed = capsys.readouterr().out
    assert "| 1 |" in printed and "adaptive softmax" in printed
    assert printed.rstrip().splitlines()[-1] == "  verdict: passed"  # the summary ends with it
    metrics = json.loads((tmp_path / "fixed" / "metrics.json").read_text())
    assert metrics["final"]["leak_audit"]["passed"] is True
    assert main(["audit", str(tmp_path / "fixed"), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "leak audit of next-word run" in out and "variant fixed" in out
    assert "verdict: passed" in out
    # the same ids and settings as the run's own audit: the same report
    assert out.split("\n", 1)[1].strip() == metrics["final"]["leak_audit"]["summary"].strip()


def test_a_leaky_run_is_flagged_at_the_end_of_training_and_by_rnnlab_audit(texts, tmp_path,
                                                                           capsys):
    assert train(texts, tmp_path / "leaky", "--epochs", "1", "--variant", "leaky") == 1
    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert last.startswith("LEAKY MODEL: the backward output")
    assert main(["audit", str(tmp_path / "leaky"), "--batch", "2", "--time", "10"]) == 1
    out = capsys.readouterr().out
    assert "verdict: LEAKS in backward" in out and "LEAKY MODEL" in out


def test_resume_continues_the_run_to_more_epochs(texts, tmp_path, capsys):
    assert train(texts, tmp_path / "run", "--epochs", "1") == 0
    assert train(texts, tmp_path / "run", "--epochs", "1") == 2
    assert "already holds a run (checkpoint.pt); pass --resume" in capsys.readouterr().err
    assert train(texts, tmp_path / "run", "--epochs", "2", "--resume") == 0
    assert "resuming" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2]


def test_a_bucketed_run_keeps_its_pool_and_a_resume_must_keep_it_too(texts, tmp_path, capsys):
    assert train(texts, tmp_path / "run", "--epochs", "1", "--bucket-pool-batches", "2") == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["bucket_pool_batches"] == 2
    capsys.readouterr()
    assert train(texts, tmp_path / "run", "--epochs", "2", "--resume") == 2
    assert "differs from the run's in ['bucket_pool_batches']" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--variant", "both"], "--variant both trains several models; a run (--out) is one"),
    (["--cutoffs", "4"], "--cutoffs 4 needs --softmax adaptive"),
    (["--output", "x.json"], "--output is the comparison's JSON"),
    (["--softmax", "adaptive", "--cutoffs", "4,40"], "cutoffs (--cutoffs) must be increasing "
                                                     "integers in [1, 29] for vocab_size=30"),
    (["--softmax", "adaptive", "--cutoffs", "4,20"],  # 12 words and 4 special tokens
     "the training texts give a vocabulary of 16 ids: cutoffs (--cutoffs) must be increasing "
     "integers in [1, 15]"),
])
def test_bad_run_options_name_the_option_and_write_nothing(extra, message, texts, tmp_path,
                                                           capsys):
    assert train(texts, tmp_path / "run", *extra) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("extra", [["--resume"], ["--softmax", "adaptive"], ["--dropout", "0.1"],
                                   ["--wdrop", "0.3"], ["--dropouti", "0.2"]])
def test_run_options_without_out_say_to_add_out(extra, capsys):
    assert main(["lm", "nextword", *extra, "--threads", "1"]) == 2
    assert "apply to a run: add --out DIR" in capsys.readouterr().err


def test_bad_cutoffs_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["lm", "nextword", "--cutoffs", "2000,x"])
    assert exit_info.value.code == 2
    assert "argument --cutoffs: must be increasing positive integers" in capsys.readouterr().err


def test_help_says_validation_never_uses_the_imdb_test_reviews(capsys):
    with pytest.raises(SystemExit):
        main(["lm", "nextword", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the IMDB test reviews are never read" in text
    assert "AdaptiveLogSoftmaxWithLoss" in text and "2000,10000" in text


def test_awd_regularisers_train_a_run_that_passes_its_audit_and_a_resume_must_keep_them(
        texts, tmp_path, capsys):
    rates = ["--dropoute", "0.1", "--dropouti", "0.2", "--dropouth", "0.2", "--wdrop", "0.3"]
    assert train(texts, tmp_path / "run", "--epochs", "1", *rates) == 0
    assert capsys.readouterr().out.rstrip().endswith("verdict: passed")  # off in eval mode
    model = json.loads((tmp_path / "run" / "config.json").read_text())["model"]
    assert (model["embedding_dropout"], model["input_dropout"], model["layer_dropout"],
            model["weight_dropout"]) == (0.1, 0.2, 0.2, 0.3)
    assert train(texts, tmp_path / "run", "--epochs", "2", "--resume", *rates[:-1], "0.5") == 2
    assert "weight_dropout" in capsys.readouterr().err
    assert train(texts, tmp_path / "run", "--epochs", "2", "--resume", *rates) == 0


@pytest.mark.parametrize("flag", ["--dropoute", "--dropouti", "--dropouth", "--wdrop",
                                  "--dropout"])
def test_a_rate_outside_0_1_is_a_usage_error_naming_the_option(flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["lm", "nextword", "--out", "unused", flag, "1.5"])
    assert exit_info.value.code == 2
    assert f"argument {flag}: must be a probability in [0, 1)" in capsys.readouterr().err
