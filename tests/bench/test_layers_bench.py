"""The layer benchmark runs and reports consistent numbers (no timing assertions here)."""

from __future__ import annotations

import pytest

from rnnlab.bench.layers import bench_layers, recurrent_flops, rows_to_markdown


def test_flop_count_of_one_lstm_step_by_hand():
    # batch 1, time 1, input 2, hidden 3: 4 gates × 3 units × (2 + 3) MACs × 2 FLOPs = 120.
    assert recurrent_flops((1, 1, 2, 3), 4, backward=False) == 120
    assert recurrent_flops((1, 1, 2, 3), 4, backward=True) == 360


def test_bench_runs_every_case_on_a_tiny_shape():
    rows = bench_layers(((2, 3, 4, 5),), repeats=1)
    cases = {row.case for row in rows}
    assert {"lstm", "lstm+lengths", "gru", "gru+lengths"} <= cases
    assert len(rows) == 2 * len(cases)  # forward and forward+backward each
    for row in rows:
        assert row.ratio == pytest.approx(row.rnnlab_ms / row.baseline_ms)
    assert "| lstm | (2, 3, 4, 5) | forward |" in rows_to_markdown(rows)
