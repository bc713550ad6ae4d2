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


def test_cases_keeps_only_the_named_prefixes_and_the_eager_split_row_is_there():
    rows = bench_layers(((2, 3, 4, 5),), repeats=1, cases=("user",))
    assert {row.case for row in rows} == {
        f"{cell}{suffix} (vs nn.LSTM)" for cell in (
            "user (update split)", "user (update split, eager update)", "user (own step)",
            "user GRU (update parts)")
        for suffix in ("", "+lengths")}


def test_bench_cli_times_a_given_shape_and_refuses_a_filter_that_matches_nothing(capsys):
    from rnnlab.cli import main

    assert main(["bench", "--shape", "2,3,4,5", "--cases", "cifg", "--repeats", "1",
                 "--threads", "1"]) == 0
    table = capsys.readouterr().out
    assert "| cifg (vs nn.LSTM) | (2, 3, 4, 5) | forward |" in table and "| lstm |" not in table
    assert main(["bench", "--shape", "2,3,4,5", "--cases", "transformer"]) == 2
    assert "matches no case" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--shape", "2,3,4"])
