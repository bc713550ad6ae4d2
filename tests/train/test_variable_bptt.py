"""Variable-length BPTT windows: AWD's length distribution, the same stream and targets."""

from __future__ import annotations

import pytest
import torch

from rnnlab.data.tbptt import TBPTTBatches
from rnnlab.train.variable_bptt import MIN_LENGTH, VariableBPTTBatches, window_lengths


def test_lengths_cover_every_target_once_and_respect_the_floor():
    lengths = window_lengths(steps=10_001, bptt=70, seed=0)
    assert sum(lengths) == 10_000  # steps - 1 targets per stream
    assert min(lengths[:-1]) >= MIN_LENGTH  # only the last one may be cut shorter


def test_lengths_follow_awd_distribution():
    # 95 % around 70, 5 % around 35, sd 5 (int() truncates: mean ≈ base - 0.5)
    lengths = window_lengths(steps=2_000_001, bptt=70, seed=1)[:-1]
    short = [n for n in lengths if n < 52]  # 52.5 is 3.5 sd from both centres
    assert len(short) / len(lengths) == pytest.approx(0.05, abs=0.005)
    long = torch.tensor([n for n in lengths if n >= 52], dtype=torch.float64)
    assert float(long.mean()) == pytest.approx(69.5, abs=0.1)
    assert float(long.std()) == pytest.approx(5.0, abs=0.15)


def test_the_same_seed_draws_the_same_windows_another_seed_others():
    assert window_lengths(5_000, 70, 3) == window_lengths(5_000, 70, 3)
    assert window_lengths(5_000, 70, 3) != window_lengths(5_000, 70, 4)


def test_windows_read_the_stream_in_order_with_targets_shifted_by_one():
    ids = torch.arange(3 * 101)
    fixed = TBPTTBatches.from_ids(ids, batch=3, bptt=12)
    windows = VariableBPTTBatches.draw(fixed, seed=0)
    assert windows.batch == 3 and len(windows) == len(windows.lengths)
    inputs = torch.cat([x for x, _ in windows], dim=1)
    targets = torch.cat([y for _, y in windows], dim=1)
    torch.testing.assert_close(inputs, fixed.streams[:, :-1], rtol=0, atol=0)
    torch.testing.assert_close(targets, fixed.streams[:, 1:], rtol=0, atol=0)
    assert [x.shape[1] for x, _ in windows] == list(windows.lengths)


def test_lengths_that_do_not_cover_the_stream_are_refused():
    with pytest.raises(ValueError, match="sum to steps - 1 = 9"):
        VariableBPTTBatches(torch.zeros(2, 10, dtype=torch.long), (4, 4), 4)
