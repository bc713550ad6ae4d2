"""``rnnlab tag`` end to end, invoked as a user would, on a tiny tagged corpus."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from rnnlab.cli import main
from tests.cli.helpers import run_rnnlab
from tests.models.tagging_grammar import sentences

TINY = ["--embedding-size", "8", "--char-size", "6", "--hidden-size", "12", "--dropout", "0",
        "--batch-size", "8", "--lr", "0.02", "--threads", "1", "--no-progress"]
FIXTURE_BROWN = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "brown"


def rnnlab(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return run_rnnlab(*args, timeout=180, stdin=stdin)


def write_tsv(path: Path, tagged) -> None:
    path.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in tagged) + "\n")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_tsv(folder / "train.tsv", sentences(100, 1))
    write_tsv(folder / "valid.tsv", sentences(10, 2))
    write_tsv(folder / "test.tsv", sentences(20, 3))
    return folder


def test_train_resume_evaluate_and_predict_as_a_user_would(corpus, tmp_path):
    out = tmp_path / "run"
    first = rnnlab("tag", "train", "--data", str(corpus), "--out", str(out), "--epochs", "4",
                   "--crf", *TINY)
    assert first.returncode == 0, first.stderr
    assert "best epoch" in first.stdout and (out / "report.md").is_file()
    again = rnnlab("tag", "train", "--data", str(corpus), "--out", str(out), "--epochs", "6",
                   "--crf", "--resume", *TINY)
    assert again.returncode == 0, again.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert [m["epoch"] for m in metrics["epochs"]] == [1, 2, 3, 4, 5, 6]
    assert metrics["final"]["test_accuracy"] == 1.0  # the grammar is learnt

    evaluated = rnnlab("tag", "evaluate", str(out), "--report", str(tmp_path / "r.md"))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "| all | " in evaluated.stdout and "most-frequent-tag" in evaluated.stdout
    assert "| all | " in evaluated.stdout.splitlines()[4]
    assert "100.00 %" in evaluated.stdout.splitlines()[4]
    assert (tmp_path / "r.md").read_text() == evaluated.stdout

    other = tmp_path / "other"
    other.mkdir()
    write_tsv(other / "test.tsv", [(("the", "DET"), ("dog", "NOUN")), (("big", "ADJ"),)])
    foreign = rnnlab("tag", "evaluate", str(out), "--data", str(other))
    assert foreign.returncode == 2
    assert "sentence 2: tag 'ADJ' is not in the model's tag set (4 tags: ., DET, NOUN, VERB)" \
        in foreign.stderr

    predicted = rnnlab("tag", "predict", str(out), stdin="the fly can a fish\nMary sees .\n")
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.splitlines() == ["the/DET fly/NOUN can/VERB a/DET fish/NOUN",
                                             "Mary/NOUN sees/VERB ./."]


def test_brown_with_the_default_universal_tags_runs(tmp_path):
    out = tmp_path / "brown"
    result = rnnlab("tag", "train", "--data", "brown", "--brown-path", str(FIXTURE_BROWN),
                    "--out", str(out), "--epochs", "1", "--char-features", "lstm",
                    "--cell", "gru", *TINY)
    assert result.returncode == 0, result.stderr
    assert "12 tags" in result.stdout
    assert json.loads((out / "config.json").read_text())["data"]["data"] == "brown"


def in_process(capsys, *args: str) -> tuple[int, str]:
    """The CLI's entry point in this process (no interpreter start-up): exit code, stderr."""
    try:
        code = main(list(args))
    except SystemExit as exit_:  # argparse's usage errors
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


def test_mismatched_tokens_and_tags_exit_2_naming_file_and_line(tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "train.jsonl").write_text(
        json.dumps({"tokens": ["a", "b"], "tags": ["X", "Y"]}) + "\n"
        + json.dumps({"tokens": ["a", "b"], "tags": ["X"]}) + "\n")
    code, err = in_process(capsys, "tag", "train", "--data", str(folder), "--out",
                           str(tmp_path / "o"), *TINY)
    assert code == 2
    assert "train.jsonl, line 2: 2 tokens but 1 tags; give exactly one tag per token" in err
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_bad_input_errors_name_the_argument_and_the_fix(corpus, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, err = in_process(capsys, "tag", "evaluate", str(tmp_path / "empty"))
    assert code == 2 and "no checkpoint.pt" in err and "rnnlab tag train --out" in err
    code, err = in_process(capsys, "tag", "train", "--data", str(corpus), "--tagset",
                           "universal", "--out", str(tmp_path / "o"), *TINY)
    assert code == 2 and "applies to --data brown only" in err
    code, err = in_process(capsys, "tag", "train", "--tagset", "penn", "--out", "o")
    assert code == 2 and "invalid choice: 'penn'" in err
    code, err = in_process(capsys, "tag", "predict", str(tmp_path / "empty"), "--input",
                           str(tmp_path / "missing.txt"))
    assert code == 2 and "no checkpoint.pt" in err
