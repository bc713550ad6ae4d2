"""``rnnlab lm`` end to end, invoked as a user would, on a tiny PTB-format corpus."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.helpers import run_rnnlab, write_ptb_corpus


def rnnlab(*args: str) -> subprocess.CompletedProcess:
    return run_rnnlab(*args, timeout=120)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_ptb_corpus(tmp_path / "tiny", train_repeats=5, held_out_repeats=1)


def train_args(corpus: Path, out: Path, epochs: int) -> list[str]:
    return ["lm", "train", "--corpus", str(corpus), "--preset", "small", "--epochs", str(epochs),
            "--batch-size", "3", "--bptt", "5", "--eval-batch-size", "2", "--out", str(out),
            "--threads", "1", "--no-progress"]


def perplexities(text: str) -> tuple[float, float]:
    valid = re.search(r"valid (?:ppl|perplexity) +([\d.]+)", text)
    test = re.search(r"test (?:ppl|perplexity) +([\d.]+)", text)
    assert valid and test, text
    return float(valid.group(1)), float(test.group(1))


def test_train_eval_and_resume_as_a_user_would(corpus, tmp_path):
    run_dir = tmp_path / "run"
    trained = rnnlab(*train_args(corpus, run_dir, 2))
    assert trained.returncode == 0, trained.stderr
    assert "vocab 11" in trained.stdout  # <unk>, <eos> and 9 words
    assert "epoch 2/2" in trained.stdout
    assert (run_dir / "checkpoint.pt").is_file()
    history = json.loads((run_dir / "history.json").read_text())
    assert [row["epoch"] for row in history["epochs"]] == [1, 2]

    evaluated = rnnlab("lm", "eval", str(run_dir), "--threads", "1")
    assert evaluated.returncode == 0, evaluated.stderr
    assert perplexities(evaluated.stdout) == perplexities(trained.stdout.splitlines()[-1])

    wrong_kind = rnnlab("predict", str(run_dir), "the cat")  # a classifier command
    assert wrong_kind.returncode == 2
    assert "holds a language-model run" in wrong_kind.stderr
    assert "Traceback" not in wrong_kind.stderr

    again = rnnlab(*train_args(corpus, run_dir, 3))  # forgot --resume
    assert again.returncode == 2
    assert "--resume" in again.stderr and "Traceback" not in again.stderr

    resumed = rnnlab(*train_args(corpus, run_dir, 3), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout and "epoch 3/3" in resumed.stdout
    assert "epoch 1/" not in resumed.stdout  # finished epochs are not trained again
    history = json.loads((run_dir / "history.json").read_text())
    assert [row["epoch"] for row in history["epochs"]] == [1, 2, 3]


def test_a_missing_corpus_folder_names_the_path(tmp_path):
    result = rnnlab(*train_args(tmp_path / "nowhere", tmp_path / "run", 1))
    assert result.returncode == 2
    assert "nowhere" in result.stderr and "Traceback" not in result.stderr


def test_nextword_compares_fixed_and_leaky_models(tmp_path):
    output = tmp_path / "nextword.json"
    result = rnnlab("lm", "nextword", "--variant", "both", "--epochs", "1", "--max-reviews",
                    "16", "--max-tokens", "8", "--vocab-size", "40", "--embedding-size", "4",
                    "--hidden-size", "6", "--threads", "1", "--no-progress",
                    "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert "| fixed | 1 |" in result.stdout and "| leaky | 1 |" in result.stdout
    results = json.loads(output.read_text())
    assert set(results) == {"fixed", "leaky"}
    assert 0.0 <= results["leaky"][0]["backward_accuracy"] <= 1.0


def test_diverged_training_stops_with_a_clear_error(corpus, tmp_path):
    run_dir = tmp_path / "run"
    result = rnnlab(*train_args(corpus, run_dir, 2), "--lr", "1e30")
    assert result.returncode == 1, result.stdout
    err = result.stderr.strip()
    assert "training diverged" in err and "--lr" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert "final:" not in result.stdout and "run:" not in result.stdout
    if (run_dir / "history.json").exists():  # written for finished epochs only: strict JSON
        json.loads((run_dir / "history.json").read_text(),
                   parse_constant=lambda constant: pytest.fail(f"history.json has {constant}"))


def test_a_test_file_shorter_than_one_batch_is_refused_before_training(corpus, tmp_path):
    (corpus / "test.txt").write_text("a\n")  # 2 tokens (a <eos>): 1 step per stream of 2
    run_dir = tmp_path / "run"
    result = rnnlab(*train_args(corpus, run_dir, 1))
    assert result.returncode == 2
    assert "epoch 1/" not in result.stdout  # refused before any training
    assert not (run_dir / "checkpoint.pt").exists()
    err = result.stderr.strip()
    assert "test" in err and "--eval-batch-size" in err and "Traceback" not in err


def test_an_out_that_is_a_file_is_refused_before_loading_anything(corpus, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    result = rnnlab(*train_args(corpus, taken, 1))
    assert result.returncode == 2
    assert "--out" in result.stderr and "is a file" in result.stderr
    assert "Traceback" not in result.stderr and taken.read_text() == "mine"
