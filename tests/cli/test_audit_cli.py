"""``rnnlab audit`` as a user runs it: exit code, summary, JSON and heatmap files."""

from __future__ import annotations

import json

import pytest

from rnnlab.cli import main
from tests.cli.helpers import train_tiny_lm_run


@pytest.mark.parametrize("args,exit_code,verdict", [
    (["--model", "seed000", "--leaky"], 1, "verdict: LEAKS in backward"),
    (["--model", "seed000"], 0, "verdict: passed"),
    (["--model", "bilstm-lm"], 1, "verdict: LEAKS in output"),
    (["--model", "causal-lm"], 0, "verdict: passed"),
])
def test_demo_models_get_the_verdict_their_design_implies(args, exit_code, verdict, capsys):
    assert main(["audit", *args, "--batch", "2", "--time", "10"]) == exit_code
    assert verdict in capsys.readouterr().out


def test_writes_json_and_heatmap(tmp_path, capsys):
    report_path, heatmap = tmp_path / "audit.json", tmp_path / "audit.png"
    main(["audit", "--model", "seed000", "--leaky", "--batch", "2", "--time", "8",
          "--json", str(report_path), "--heatmap", str(heatmap)])
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["passed"] is False
    assert heatmap.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_needs_exactly_one_of_a_run_and_a_demo_model(capsys):
    assert main(["audit"]) == 2
    assert "give either RUN_DIR" in capsys.readouterr().err


def test_a_trained_lm_run_passes_its_causal_contract(tmp_path, capsys):
    run_dir = train_tiny_lm_run(tmp_path, held_out_repeats=2)
    capsys.readouterr()
    assert main(["audit", str(run_dir), "--batch", "2", "--time", "8"]) == 0
    out = capsys.readouterr().out
    assert f"leak audit of LM run {run_dir}" in out and "verdict: passed" in out
