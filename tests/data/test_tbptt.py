"""TBPTT batching: the pytorch/examples layout, exactly (see the diagram in data/tbptt.py)."""

from __future__ import annotations

import pytest
import torch

from rnnlab.data.errors import DataError
from rnnlab.data.tbptt import TBPTTBatches, batchify, detach_state


def test_batchify_cuts_the_stream_into_contiguous_rows_and_drops_the_tail():
    # 26 tokens a..z as 0..25, batch 4: rows of 26 // 4 = 6, "y z" (24, 25) dropped.
    streams = batchify(list(range(26)), batch=4)
    assert streams.tolist() == [
        [0, 1, 2, 3, 4, 5],
        [6, 7, 8, 9, 10, 11],
        [12, 13, 14, 15, 16, 17],
        [18, 19, 20, 21, 22, 23],
    ]
    assert streams.dtype == torch.long


def test_windows_match_the_docstring_diagram_exactly():
    # Written by hand from pytorch/examples' get_batch: i = 0, 2, 4; seq_len = min(bptt,
    # steps - 1 - i); targets shifted one step within the row.
    batches = TBPTTBatches.from_ids(range(26), batch=4, bptt=2)
    windows = [(inputs.tolist(), targets.tolist()) for inputs, targets in batches]
    assert windows == [
        ([[0, 1], [6, 7], [12, 13], [18, 19]], [[1, 2], [7, 8], [13, 14], [19, 20]]),
        ([[2, 3], [8, 9], [14, 15], [20, 21]], [[3, 4], [9, 10], [15, 16], [21, 22]]),
        ([[4], [10], [16], [22]], [[5], [11], [17], [23]]),
    ]
    assert len(batches) == 3
    assert batches.num_targets == 4 * 5


def test_every_stream_token_but_the_first_is_a_target_exactly_once():
    batches = TBPTTBatches.from_ids(range(3 * 11), batch=3, bptt=4)  # rows of 11, windows 4 4 2
    assert [inputs.shape[1] for inputs, _ in batches] == [4, 4, 2]
    targets = torch.cat([t for _, t in batches], dim=1)
    assert torch.equal(targets, batches.streams[:, 1:])
    inputs = torch.cat([i for i, _ in batches], dim=1)
    assert torch.equal(inputs, batches.streams[:, :-1])


def test_windows_cover_the_stream_when_its_length_is_a_multiple_of_bptt():
    # rows of 6 with bptt 3: windows start at 0 and 3; the second is 2 long (5 targets in all)
    batches = TBPTTBatches.from_ids(range(12), batch=2, bptt=3)
    assert [tuple(i.shape) for i, _ in batches] == [(2, 3), (2, 2)]


@pytest.mark.parametrize(
    ("ids", "batch", "bptt", "message"),
    [
        (range(5), 3, 2, "batch=3"),  # 1 step per row
        (range(10), 0, 2, "batch must be >= 1"),
        (range(10), 2, 0, "bptt must be >= 1"),
        ([[1, 2], [3, 4]], 1, 2, "1-D"),
    ],
)
def test_bad_arguments_name_the_argument(ids, batch, bptt, message):
    with pytest.raises(DataError, match=message):
        TBPTTBatches.from_ids(list(ids), batch=batch, bptt=bptt)


def test_detach_state_keeps_values_and_cuts_the_graph():
    weight = torch.ones(2, requires_grad=True)
    state = (weight * 2.0, weight * 3.0)
    detached = detach_state(state)
    assert all(torch.equal(a, b) for a, b in zip(state, detached))
    assert all(part.grad_fn is None and not part.requires_grad for part in detached)
    assert detach_state(None) is None
    assert detach_state(weight * 2.0).grad_fn is None
