"""Issue 14: progress on long work (LM and classifier training, evaluation passes), tqdm frames
only on a terminal and one line per epoch otherwise; ``--max-eval-tokens`` caps the
validation pass of ``lm train``.

In process (``rnnlab.cli.main``): tqdm writes to the ``sys.stderr`` of the moment, so a
captured stderr is a pipe and a stderr whose ``isatty()`` is true stands for a terminal.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from rnnlab.cli import main
from tests.cli.helpers import SENTENCES

LM_FLAGS = ["--preset", "small", "--batch-size", "3", "--bptt", "5", "--eval-batch-size", "2",
            "--threads", "1"]


@pytest.fixture
def lm_corpus(tmp_path: Path) -> Path:
    """test_lm_cli's tiny PTB-format corpus (train 20 sentences, valid 2, test 2)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    for name, sentences in (("train", SENTENCES * 5), ("valid", SENTENCES[:2]),
                            ("test", SENTENCES[2:])):
        (folder / f"{name}.txt").write_text("\n".join(sentences) + "\n")
    return folder


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _lm_train(corpus_dir: Path, out: Path, *extra: str) -> int:
    return main(["lm", "train", "--corpus", str(corpus_dir), "--out", str(out), *LM_FLAGS,
                 *extra])


def test_lm_train_in_a_pipe_prints_one_line_per_epoch_and_no_bar_frames(lm_corpus, tmp_path,
                                                                        capsys):
    assert _lm_train(lm_corpus, tmp_path / "run", "--epochs", "2") == 0
    printed = capsys.readouterr()
    assert "\r" not in printed.err and "win" not in printed.err  # no tqdm frames
    epochs = [line for line in printed.out.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/2", "2/2"]


def test_lm_train_and_eval_on_a_terminal_draw_bars(lm_corpus, tmp_path, monkeypatch, capsys):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert _lm_train(lm_corpus, tmp_path / "run", "--epochs", "1") == 0
    frames = terminal.getvalue()
    assert "\r" in frames and "epoch 1/1" in frames and "valid 1/1" in frames
    assert "score test" in frames  # the final scoring pass has its bar too
    assert "epoch 1/1" in capsys.readouterr().out  # and the per-epoch line is printed
    terminal.seek(0)
    terminal.truncate()
    assert main(["lm", "eval", str(tmp_path / "run"), "--no-progress"]) == 0
    assert terminal.getvalue() == ""  # --no-progress: no bar
    assert main(["lm", "eval", str(tmp_path / "run")]) == 0
    assert "score valid" in terminal.getvalue()


def test_lm_nextword_in_a_pipe_prints_epoch_lines_without_bar_frames(capsys):
    assert main(["lm", "nextword", "--variant", "fixed", "--epochs", "1", "--max-reviews", "40",
                 "--vocab-size", "60", "--max-tokens", "6", "--embedding-size", "3",
                 "--hidden-size", "4", "--threads", "1"]) == 0
    printed = capsys.readouterr()
    assert "\r" not in printed.err
    assert "epoch 1: loss" in printed.out


def test_max_eval_tokens_caps_the_validation_pass_but_not_the_final_scores(lm_corpus, tmp_path):
    runs = {}
    for name, extra in (("whole", ()), ("capped", ("--max-eval-tokens", "8"))):
        assert _lm_train(lm_corpus, tmp_path / name, "--epochs", "1", "--no-progress", *extra) == 0
        runs[name] = json.loads((tmp_path / name / "history.json").read_text())
    whole, capped = runs["whole"], runs["capped"]
    # the same model, and final scores over the whole splits ...
    assert capped["final"] == whole["final"]
    # ... but the epoch's valid score saw 8 tokens only (uncapped it is the final valid score)
    assert whole["epochs"][0]["valid_perplexity"] == pytest.approx(
        whole["final"]["valid_perplexity"])
    assert capped["epochs"][0]["valid_perplexity"] != pytest.approx(
        whole["epochs"][0]["valid_perplexity"])


def test_max_eval_tokens_below_two_per_stream_is_one_clear_line(lm_corpus, tmp_path, capsys):
    assert _lm_train(lm_corpus, tmp_path / "run", "--max-eval-tokens", "3") == 2
    message = capsys.readouterr().err
    assert "max_eval_tokens (--max-eval-tokens) must be an int >= 2 × eval_batch_size = 4" \
        in message
    assert not (tmp_path / "run").exists()


def test_classifier_evaluation_passes_show_a_bar_on_a_terminal_only(tmp_path, monkeypatch,
                                                                   capsys):
    from ..experiments.test_runner import _write_reviews

    data = _write_reviews(tmp_path / "reviews.csv")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["train", "--data", str(data), "--vocab-size", "30", "--maxlen", "6",
                 "--embedding", "3", "--hidden", "4", "--dense", "0", "--epochs", "1",
                 "--threads", "1", "--out", str(tmp_path / "run")]) == 0
    assert "valid 1/1" in terminal.getvalue() and "test 1/1" in terminal.getvalue()
    assert "epoch 1: train loss" in capsys.readouterr().out  # the per-epoch line as well
    terminal.seek(0)
    terminal.truncate()
    argv = ["evaluate", str(tmp_path / "run"), "--data", str(data)]
    assert main([*argv, "--no-progress"]) == 0 and terminal.getvalue() == ""
    assert main(argv) == 0 and "evaluate test" in terminal.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a pipe: no frames
    assert main(argv) == 0 and sys.stderr.getvalue() == ""
