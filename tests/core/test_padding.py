"""Padding helpers: the worked examples of their docstrings, and their error messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.core.padding import (
    as_lengths,
    flip_sequences,
    lengths_to_mask,
    post_to_pre,
    pre_to_post,
)


def test_flip_sequences_reverses_only_the_real_part():
    x = torch.tensor([[1, 0, 0], [2, 3, 0], [4, 5, 6]]).unsqueeze(-1)
    flipped = flip_sequences(x, torch.tensor([1, 2, 3])).squeeze(-1)
    assert flipped.tolist() == [[1, 0, 0], [3, 2, 0], [6, 5, 4]]


def test_pre_and_post_conversions_are_inverse_and_move_real_tokens():
    pre = torch.tensor([[0, 0, 7], [8, 9, 10], [0, 0, 0]]).unsqueeze(-1)
    lengths = torch.tensor([1, 3, 0])
    post = pre_to_post(pre, lengths)
    assert post.squeeze(-1).tolist() == [[7, 0, 0], [8, 9, 10], [0, 0, 0]]
    assert torch.equal(post_to_pre(post, lengths), pre)


def test_masks_for_both_sides():
    lengths = torch.tensor([1, 3, 0])
    assert lengths_to_mask(lengths, 3).int().tolist() == [[1, 0, 0], [1, 1, 1], [0, 0, 0]]
    assert lengths_to_mask(lengths, 3, "pre").int().tolist() == [[0, 0, 1], [1, 1, 1], [0, 0, 0]]


@pytest.mark.parametrize("lengths,message", [
    ([5, 1, 2], r"lengths must be in \[0, 4\] for time=4, got max 5"),
    ([-1, 1, 2], "lengths must be >= 0, got min -1"),
    ([1, 2], "expected 3 \\(the batch size\\), got 2"),
    ([[1, 2, 3]], "lengths must be 1-D"),
    ([1.5, 2, 3], "whole numbers"),
])
def test_bad_lengths_name_the_value_and_the_rule(lengths, message):
    with pytest.raises(ValueError, match=message):
        as_lengths(np.array(lengths) if not isinstance(lengths[0], list) else lengths,
                   batch=3, time=4)


def test_padding_is_one_type_that_accepts_either_spelling():
    from rnnlab.core.padding import Padding, check_padding

    assert check_padding("pre") is Padding.PRE and Padding.PRE == "pre"
    assert Padding.POST.opposite is Padding.PRE
    with pytest.raises(ValueError, match=r"padding must be one of \('post', 'pre'\), got 'left'"):
        check_padding("left")


def test_mask_gives_lengths_and_its_side():
    from rnnlab.core.padding import Padding, lengths_from_mask

    mask = torch.tensor([[False, True, True], [True, True, True], [False, False, False]])
    lengths, side = lengths_from_mask(mask, batch=3, time=3, padding=None)
    assert lengths.tolist() == [2, 3, 0] and side is Padding.PRE
    with pytest.raises(TypeError, match="mask must be a boolean tensor"):
        lengths_from_mask(mask.int(), batch=3, time=3, padding=None)
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, time\) = \(3, 4\)"):
        lengths_from_mask(mask, batch=3, time=4, padding=None)
