"""``rnnlab lm train --preset awd-small`` invoked as a user would: train, resume, bad values."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.helpers import run_rnnlab, write_ptb_corpus


def rnnlab(*args: str) -> subprocess.CompletedProcess:
    return run_rnnlab(*args, timeout=300)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_ptb_corpus(tmp_path / "tiny", train_repeats=8, held_out_repeats=2)


def train_args(corpus: Path, out: Path, epochs: int) -> list[str]:
    return ["lm", "train", "--corpus", str(corpus), "--preset", "awd-small", "--epochs",
            str(epochs), "--batch-size", "2", "--bptt", "8", "--eval-batch-size", "2",
            "--nonmono", "0", "--out", str(out), "--threads", "1", "--no-progress"]


def test_awd_small_trains_and_resumes_to_the_same_numbers(corpus, tmp_path):
    straight = rnnlab(*train_args(corpus, tmp_path / "straight", 2))
    assert straight.returncode == 0, straight.stderr
    first = rnnlab(*train_args(corpus, tmp_path / "split", 1))
    assert first.returncode == 0, first.stderr
    resumed = rnnlab(*train_args(corpus, tmp_path / "split", 2), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    a = json.loads((tmp_path / "straight" / "history.json").read_text())
    b = json.loads((tmp_path / "split" / "history.json").read_text())
    assert a["final"] == b["final"]
    assert [row["valid_perplexity"] for row in a["epochs"]] == [
        row["valid_perplexity"] for row in b["epochs"]]
    evaluated = rnnlab("lm", "eval", str(tmp_path / "split"), "--threads", "1", "--no-progress")
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"test perplexity  {a['final']['test_perplexity']:.2f}" in evaluated.stdout


@pytest.mark.parametrize("flag, value, message", [
    ("--wdrop", "1.5", "argument --wdrop: must be a probability in [0, 1)"),
    ("--dropoute", "x", "argument --dropoute: must be a probability in [0, 1)"),
    ("--alpha", "-1", "argument --alpha: must be a finite number >= 0"),
    ("--nonmono", "-2", "argument --nonmono: must be an integer >= 0"),
    ("--clip", "0", "argument --clip: must be a finite number > 0"),
])
def test_a_bad_regulariser_value_names_the_flag(corpus, tmp_path, flag, value, message):
    result = rnnlab(*train_args(corpus, tmp_path / "run", 1), flag, value)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "run").exists()
