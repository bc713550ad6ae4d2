"""Invariants of padded recurrent layers, checked on generated cases (hypothesis)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnlab
from rnnlab.core.padding import post_to_pre, pre_to_post

CELLS = ["lstm", "peephole", "cifg", "layernorm", "gru", "rnn_tanh"]


def build(cell: str, layers: int, bidirectional: bool) -> rnnlab.Recurrent:
    torch.manual_seed(0)
    cls = rnnlab.GRU if cell == "gru" else rnnlab.RNN if cell == "rnn_tanh" else rnnlab.LSTM
    kwargs = {} if cls is rnnlab.RNN else {"cell": cell}
    return cls(3, 4, layers, batch_first=True, bidirectional=bidirectional, **kwargs).double()


cases = st.fixed_dictionaries({
    "cell": st.sampled_from(CELLS),
    "layers": st.integers(1, 2),
    "bidirectional": st.booleans(),
    "lengths": st.lists(st.integers(0, 5), min_size=1, max_size=4),
    "extra_padding": st.integers(0, 3),
    "seed": st.integers(0, 2**16),
})


@settings(max_examples=60, deadline=None, database=None)
@given(case=cases)
def test_real_outputs_ignore_padding_content_and_amount(case):
    layer = build(case["cell"], case["layers"], case["bidirectional"])
    lengths = torch.tensor(case["lengths"])
    time = int(lengths.max()) if len(lengths) else 0
    generator = torch.Generator().manual_seed(case["seed"])
    x = torch.randn(len(lengths), max(time, 1), 3, generator=generator, dtype=torch.float64)
    noisy = torch.cat([x, 100 * torch.randn(len(lengths), case["extra_padding"], 3,
                                             generator=generator, dtype=torch.float64)], dim=1)
    mask = rnnlab.lengths_to_mask(lengths, x.shape[1])
    noisy[:, : x.shape[1]][~mask] = 1e3  # garbage in every padded slot
    for padding in ("post", "pre"):
        unpadded = x if padding == "post" else post_to_pre(x, lengths)
        base = layer(unpadded, lengths=lengths, padding=padding)
        padded_input = noisy if padding == "post" else post_to_pre(noisy, lengths)
        shifted = layer(padded_input, lengths=lengths, padding=padding)
        base_post = base.output if padding == "post" else pre_to_post(base.output, lengths)
        shifted_post = (shifted.output if padding == "post"
                        else pre_to_post(shifted.output, lengths))
        torch.testing.assert_close(shifted_post[:, : x.shape[1]], base_post, atol=1e-12, rtol=0)
        assert torch.all(shifted_post[:, x.shape[1]:] == 0)
        torch.testing.assert_close(shifted.h_n, base.h_n, atol=1e-12, rtol=0)


@settings(max_examples=40, deadline=None, database=None)
@given(case=cases)
def test_pre_padded_result_equals_post_padded_result_shifted(case):
    layer = build(case["cell"], case["layers"], case["bidirectional"])
    lengths = torch.tensor(case["lengths"])
    time = max(int(lengths.max()) + case["extra_padding"], 1)
    generator = torch.Generator().manual_seed(case["seed"])
    x_post = torch.randn(len(lengths), time, 3, generator=generator, dtype=torch.float64)
    post = layer(x_post, lengths=lengths, padding="post")
    pre = layer(post_to_pre(x_post, lengths), lengths=lengths, padding="pre")
    torch.testing.assert_close(pre.output, post_to_pre(post.output, lengths), atol=1e-12, rtol=0)
    torch.testing.assert_close(pre.last, post.last, atol=1e-12, rtol=0)


@settings(max_examples=30, deadline=None, database=None)
@given(cell=st.sampled_from(CELLS), seed=st.integers(0, 2**16))
def test_bidirectional_layer_is_symmetric_under_reversal(cell, seed):
    """Reversing each sequence and swapping the directions' weights mirrors the output."""
    layer = build(cell, 1, True)
    swapped = build(cell, 1, True)
    state = layer.state_dict()
    swapped.load_state_dict({
        (k[: -len("_reverse")] if k.endswith("_reverse") else k + "_reverse"): v
        for k, v in state.items()
    })
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 5, 3, generator=generator, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 4])
    out = layer(x, lengths=lengths).output
    mirrored = swapped(rnnlab.flip_sequences(x, lengths), lengths=lengths).output
    expected = rnnlab.flip_sequences(torch.cat([out[..., 4:], out[..., :4]], dim=-1), lengths)
    torch.testing.assert_close(mirrored, expected, atol=1e-12, rtol=0)
