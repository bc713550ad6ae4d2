"""The examples the README points at run as a reader would run them, and say what it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_outputs_explained_example_prints_checkable_facts():
    result = subprocess.run([sys.executable, str(EXAMPLES / "outputs_explained.py")],
                            capture_output=True, text=True, check=True, timeout=120)
    lines = result.stdout.splitlines()
    assert "output         (3, 5, 4)" in lines
    assert "final_hidden   (2, 2, 3, 2)" in lines
    assert "padding is zero: True" in lines
    assert "last == top layer of h_n: True" in lines
    assert "output[:, -1] == last? False" in lines
    assert "matches torch.nn: True True" in lines
    forward = next(line for line in lines if line.startswith("forward  at"))
    backward = next(line for line in lines if line.startswith("backward at"))
    last = next(line for line in lines if line.startswith("last[1]"))
    assert last.split(":", 1)[1].strip().strip("[]") == ", ".join(
        part.split(":", 1)[1].strip().strip("[]") for part in (forward, backward))


def test_readme_python_blocks_run():
    """Every ```python block runs as written; ```py blocks use files that the README's shell
    commands make (a trained run) and are not run here."""
    import re

    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "the README should show Python usage"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
