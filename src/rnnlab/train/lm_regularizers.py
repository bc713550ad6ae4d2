"""Activation regularisation (AR) and temporal AR (TAR) of a language model's last layer.

Merity, McCann & Socher (2017), "Revisiting Activation Regularization for Language RNNs",
as used by AWD-LSTM (Merity et al. 2017, section 4.6), on the last LSTM layer's output
``(batch, time, hidden)``::

    AR  = α · mean( m ⊙ h_t )²                 the output after its (locked) dropout m
    TAR = β · mean( h_t − h_{t−1} )²           the output before dropout, t = 2 … time

each a mean over every element (their code: ``.pow(2).mean()``), added to the mean token NLL.
AWD: α = 2, β = 1.
"""

from __future__ import annotations

import torch


def activation_regularization(dropped_output: torch.Tensor, alpha: float) -> torch.Tensor:
    """``alpha · mean(dropped_output²)``; ``dropped_output: (batch, time, hidden)``."""
    return alpha * dropped_output.pow(2).mean()


def temporal_activation_regularization(output: torch.Tensor, beta: float) -> torch.Tensor:
    """``beta · mean((h_t − h_{t−1})²)`` over ``output: (batch, time, hidden)``; 0 for one
    step (there is no pair)."""
    if output.shape[1] < 2:
        return output.new_zeros(())
    return beta * (output[:, 1:] - output[:, :-1]).pow(2).mean()
