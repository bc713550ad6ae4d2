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
    folder.mkdir()
    (folder / "train.txt").write_text("\n".join(SENTENCES * train_repeats) + "\n")
    (folder / "valid.txt").write_text("\n".join(SENTENCES[:2] * held_out_repeats) + "\n")
    (folder / "test.txt").write_text("\n".join(SENTENCES[2:] * held_out_repeats) + "\n")
    return folder
