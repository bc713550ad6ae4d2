"""What the CLI tests share: running ``python -m rnnlab`` as a user would, and a tiny
PTB-format corpus (one sentence per line, train/valid/test files in one folder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SENTENCES = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat saw a dog",
    "the dog saw the cat on the mat",
]


def run_rnnlab(*args: str, timeout: float = 120,
               stdin: str | None = None) -> subprocess.CompletedProcess:
    """``python -m rnnlab ARGS`` in a child process; output captured as text."""
    return subprocess.run([sys.executable, "-m", "rnnlab", *args], capture_output=True,
                          text=True, timeout=timeout, input=stdin)


def write_ptb_corpus(folder: Path, train_repeats: int, held_out_repeats: int) -> Path:
    """``folder``/{train,valid,test}.txt: train holds every sentence ``train_repeats`` times;
    valid the first two and test the last two, each ``held_out_repeats`` times."""
    return _write_splits(folder, {"train": SENTENCES * train_repeats,
                                  "valid": SENTENCES[:2] * held_out_repeats,
                                  "test": SENTENCES[2:] * held_out_repeats})


def _write_splits(folder: Path, splits: dict[str, list[str]]) -> Path:
    """``folder``/SPLIT.txt for each split, one sentence per line."""
    folder.mkdir()
    for split, lines in splits.items():
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return folder


def train_tiny_lm_run(tmp_path: Path, held_out_repeats: int) -> Path:
    """A one-epoch ``rnnlab lm train --preset small`` run on a three-sentence corpus, trained
    in this process (``rnnlab.cli.main``); returns its run directory ``tmp_path/lm``."""
    from rnnlab.cli import main

    sentences = ["the cat sat on the mat", "a dog saw the cat", "the dog sat on a log"]
    corpus = _write_splits(tmp_path / "corpus", {"train": sentences * 6,
                                                 "valid": sentences * held_out_repeats,
                                                 "test": sentences * held_out_repeats})
    run_dir = tmp_path / "lm"
    code = main(["lm", "train", "--corpus", str(corpus), "--preset", "small", "--epochs", "1",
                 "--batch-size", "2", "--bptt", "4", "--eval-batch-size", "2",
                 "--out", str(run_dir), "--threads", "1", "--no-progress"])
    assert code == 0, f"rnnlab lm train exited {code}"
    return run_dir


def expect_usage_error(argv: list[str], message: str, capsys, out: Path) -> str:
    """Run ``rnnlab ARGV --out OUT`` in-process: it must exit 2 with ``message`` on stderr
    and write nothing at ``out``. Returns stderr."""
    from rnnlab.cli import main

    code = main([*argv, "--out", str(out)])
    error = capsys.readouterr().err
    assert code == 2, error
    assert message in error
    assert not out.exists(), "nothing may be written on bad input"
    return error
