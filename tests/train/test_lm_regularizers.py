"""AR and TAR against hand-computed values on a tiny tensor."""

from __future__ import annotations

import pytest
import torch

from rnnlab.train.lm_regularizers import (
    activation_regularization,
    temporal_activation_regularization,
)

# (batch 2, time 3, hidden 1), values chosen so the sums are easy by hand
OUTPUT = torch.tensor([[[1.0], [3.0], [0.0]],
                       [[2.0], [2.0], [-2.0]]])


def test_ar_is_alpha_times_the_mean_square():
    # squares 1 9 0 4 4 4: sum 22 over 6 elements; α = 2 → 2 · 22/6
    assert float(activation_regularization(OUTPUT, 2.0)) == pytest.approx(22 / 3)


def test_tar_is_beta_times_the_mean_square_step():
    # steps: row 0: 3-1=2, 0-3=-3 → 4, 9; row 1: 0, -4 → 0, 16; sum 29 over 4; β = 1
    assert float(temporal_activation_regularization(OUTPUT, 1.0)) == pytest.approx(29 / 4)


def test_tar_runs_along_time_not_batch():
    # the same numbers with batch and time swapped give another value: the axis matters
    swapped = OUTPUT.transpose(0, 1).contiguous()  # (3, 2, 1): steps now between rows
    # steps: (2-1)=1, (3-2)=1, (-2-0)=-2 → 1, 1, 4: mean 2
    assert float(temporal_activation_regularization(swapped, 1.0)) == pytest.approx(2.0)


def test_tar_of_a_single_step_is_zero_and_both_are_differentiable():
    assert float(temporal_activation_regularization(OUTPUT[:, :1], 1.0)) == 0.0
    output = OUTPUT.clone().requires_grad_()
    (activation_regularization(output, 2.0) + temporal_activation_regularization(output, 1.0)
     ).backward()
    # d/dx of 2·mean(x²) = 4x/6; row 0, t 0: 4/6 + TAR's 2·(1-3)/4 = 4/6 - 1
    assert float(output.grad[0, 0, 0]) == pytest.approx(4 / 6 - 1)
