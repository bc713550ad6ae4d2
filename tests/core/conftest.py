"""Shared builders for the core tests: a torch.nn oracle for every rnnlab layer."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnlab
from rnnlab.core.padding import post_to_pre, pre_to_post

# Tiny sizes that all differ, so a swapped dimension fails loudly.
BATCH, TIME, INPUT, HIDDEN = 3, 4, 5, 6

TORCH_CLASSES = {
    "lstm": (torch.nn.LSTM, rnnlab.LSTM, {}),
    "gru": (torch.nn.GRU, rnnlab.GRU, {}),
    "rnn_tanh": (torch.nn.RNN, rnnlab.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (torch.nn.RNN, rnnlab.RNN, {"nonlinearity": "relu"}),
}

# Lengths cases: every position real, a mix that includes a full row and a length-0 row.
LENGTHS = {"none": None, "mixed": [TIME, 2, 0]}


def make_pair(kind: str, dtype: torch.dtype, **layer_args):
    """An rnnlab layer and a torch.nn layer with the same weights."""
    torch_cls, ours_cls, extra = TORCH_CLASSES[kind]
    reference = torch_cls(INPUT, HIDDEN, **extra, **layer_args).to(dtype)
    ours = ours_cls(INPUT, HIDDEN, **extra, **layer_args).to(dtype)
    ours.load_state_dict(reference.state_dict())
    return ours, reference


def torch_oracle(reference: torch.nn.Module, x, lengths, padding, batch_first, h0=None):
    """Run ``torch.nn`` on (possibly padded) ``x``; returns outputs and final states.

    Lengths go through a PackedSequence (post padding); pre padding is shifted to post first
    and back after. Rows of length 0 cannot be packed: they run with length 1 and the test
    compares them against the documented contract (zeros, initial state) separately.
    """
    if lengths is None:
        out, state = reference(x, h0) if h0 is not None else reference(x)
        return out, state
    xb = x if batch_first else x.transpose(0, 1)
    lengths_t = torch.as_tensor(lengths)
    if padding == "pre":
        xb = pre_to_post(xb, lengths_t)
    packed = pack_padded_sequence(xb, lengths_t.clamp(min=1), batch_first=True,
                                  enforce_sorted=False)
    packed_out, state = reference(packed, h0) if h0 is not None else reference(packed)
    out, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=xb.shape[1])
    if padding == "pre":
        out = post_to_pre(out, lengths_t)
    return (out if batch_first else out.transpose(0, 1)), state


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
