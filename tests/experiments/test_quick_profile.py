"""The README's main job, end to end: the quick profile of seed 002's study on imdb-short."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_quick_profile_runs_the_twelve_arrangements_and_answers_the_four_questions(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rnnlab", "compare", "--profile", "quick", "--out",
         str(tmp_path / "quick"), "--no-progress"],
        capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "runs: 42 done" in result.stdout
    report = (tmp_path / "quick" / "report" / "report.md").read_text(encoding="utf-8")
    for question in ("Q1", "Q2", "Q3", "Q4"):
        assert f"### {question}." in report
    for arrangement in ("SS_RSF_LSTM", "MS_RST_biGRU"):
        assert f"`{arrangement}`" in report
    html = (tmp_path / "quick" / "report" / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 4
