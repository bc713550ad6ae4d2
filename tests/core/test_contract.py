"""The contract (tests/contract.py) over every layer and cell, and over a user-written cell."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnlab
from tests.contract import contract_cases, layer_subject


class MinimalGatedUnit(rnnlab.RecurrentCell):
    """Minimal gated unit (Zhou et al. 2016, "Minimal Gated Unit for Recurrent Neural
    Networks"): one forget gate ``f`` that also gates the candidate's view of ``h``::

        f = σ(W_f x + U_f h + b_f)
        h̃ = tanh(W_h x + U_h (f ⊙ h) + b_h)
        h' = (1 − f) ⊙ h + f ⊙ h̃

    Written against the cell protocol only, as a user would: its own weights, ``state_sizes``
    and ``forward(x_t, state) -> (h_t, state)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.input_weights = nn.Parameter(torch.empty(2 * hidden_size, input_size))
        self.forget_recurrent = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.candidate_recurrent = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.gate_bias = nn.Parameter(torch.empty(2 * hidden_size)) if bias else None
        self.reset_parameters()

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size,)

    def forward(self, x_t: torch.Tensor, state: tuple[torch.Tensor, ...]):
        (h,) = state
        forget_input, candidate_input = F.linear(x_t, self.input_weights,
                                                 self.gate_bias).chunk(2, dim=-1)
        forget = torch.sigmoid(forget_input + F.linear(h, self.forget_recurrent))
        candidate = torch.tanh(candidate_input + F.linear(forget * h, self.candidate_recurrent))
        h_next = (1 - forget) * h + forget * candidate
        return h_next, (h_next,)


KINDS = {
    # name: (factory, has a cell state)
    "lstm": (rnnlab.LSTM, True),
    "gru": (rnnlab.GRU, False),
    "rnn_tanh": (functools.partial(rnnlab.RNN, nonlinearity="tanh"), False),
    "rnn_relu": (functools.partial(rnnlab.RNN, nonlinearity="relu"), False),
    "peephole": (functools.partial(rnnlab.LSTM, cell="peephole"), True),
    "cifg": (functools.partial(rnnlab.LSTM, cell="cifg"), True),
    "layernorm": (functools.partial(rnnlab.LSTM, cell="layernorm"), True),
    "user_mgu": (functools.partial(rnnlab.Recurrent, cell=MinimalGatedUnit), False),
}
# (num_layers, bidirectional, batch_first): every pair of the three settings occurs once,
# so each interaction of two is covered in 4 runs instead of 8.
GRID = [(1, False, True), (1, True, False), (2, False, False), (2, True, True)]


def _name(kind: str, num_layers: int, bidirectional: bool, batch_first: bool) -> str:
    direction = "bi" if bidirectional else "uni"
    layout = "batch_first" if batch_first else "time_first"
    return f"{kind}-{num_layers}layer-{direction}-{layout}"


SUBJECTS = [
    layer_subject(_name(kind, layers, bidirectional, batch_first), factory,
                  num_layers=layers, bidirectional=bidirectional, batch_first=batch_first,
                  has_cell_state=has_cell_state)
    for kind, (factory, has_cell_state) in KINDS.items()
    for layers, bidirectional, batch_first in GRID
]


@pytest.mark.parametrize(("subject", "check"), contract_cases(SUBJECTS))
def test_contract(subject, check):
    check(subject)
