"""LSTM variants (seed 004 and Greff et al. 2017, "LSTM: A Search Space Odyssey").

They run through the same layer machinery as the standard cells, on rnnlab's own fused
kernels (:mod:`rnnlab.core.kernels`: C++ with hand-written BPTT; the time loop where no
compiler is present), since PyTorch has no fused kernel for them. Each one keeps
``weight_ih``/``weight_hh``/``bias_*`` with the standard meaning and adds only what its
equations need.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.core.cells import State, _GatedCell


class _LSTMVariant(_GatedCell):
    """An LSTM-like cell: state ``(h, c)``, both ``(batch, hidden)``."""

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size, self.hidden_size)


class PeepholeLSTMCell(_LSTMVariant):
    """LSTM with peephole connections (Gers & Schmidhuber 2000, "Recurrent nets that time and
    count"): the gates also look at the cell state, through diagonal weights ``p``::

        i = σ(W_i [x, h] + b_i + p_i ⊙ c)         f = σ(W_f [x, h] + b_f + p_f ⊙ c)
        g = tanh(W_g [x, h] + b_g)                c' = f ⊙ c + i ⊙ g
        o = σ(W_o [x, h] + b_o + p_o ⊙ c')        h' = o ⊙ tanh(c')

    ``weight_peephole (3, hidden)`` holds rows ``p_i, p_f, p_o``; the output gate looks at the
    *new* cell state, as in the paper. Gate order of ``weight_ih`` is i, f, g, o.
    """

    num_gates = 4
    native_kind = "peephole"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, **factory) -> None:
        super().__init__(input_size, hidden_size, bias, **factory)
        self.weight_peephole = nn.Parameter(torch.empty(3, hidden_size, **factory))
        self.reset_parameters()

    def step(self, precomputed_t: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h, c = state
        i, f, g, o = (precomputed_t + self._recurrent(h)).chunk(4, dim=-1)
        peep_i, peep_f, peep_o = self.weight_peephole
        c_next = torch.sigmoid(f + peep_f * c) * c + torch.sigmoid(i + peep_i * c) * torch.tanh(g)
        h_next = torch.sigmoid(o + peep_o * c_next) * torch.tanh(c_next)
        return h_next, (h_next, c_next)


class CIFGLSTMCell(_LSTMVariant):
    """Coupled input–forget gate LSTM (CIFG; Greff et al. 2017): the forget gate is ``1 − i``,
    so new content replaces old in proportion, and there is one gate fewer::

        i = σ(W_i [x, h] + b_i)    g = tanh(W_g [x, h] + b_g)    o = σ(W_o [x, h] + b_o)
        c' = (1 − i) ⊙ c + i ⊙ g   h' = o ⊙ tanh(c')

    Gate order of ``weight_ih (3*hidden, input)`` is i, g, o.
    """

    num_gates = 3
    native_kind = "cifg"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, **factory) -> None:
        super().__init__(input_size, hidden_size, bias, **factory)
        self.reset_parameters()

    def step(self, precomputed_t: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h, c = state
        i, g, o = (precomputed_t + self._recurrent(h)).chunk(3, dim=-1)
        input_gate = torch.sigmoid(i)
        c_next = (1 - input_gate) * c + input_gate * torch.tanh(g)
        h_next = torch.sigmoid(o) * torch.tanh(c_next)
        return h_next, (h_next, c_next)


class LayerNormLSTMCell(_LSTMVariant):
    """Layer-normalised LSTM (Ba, Kiros & Hinton 2016, "Layer Normalization", §3.1)::

        gates = LN(W_ih x; α_ih, β_ih) + LN(W_hh h; α_hh, β_hh) + b
        c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)        h' = σ(o) ⊙ tanh(LN(c'; α_c, β_c))

    Normalising the input and recurrent contributions separately keeps their scales comparable
    whatever the sequence position. ``bias_ih``/``bias_hh`` play the role of ``b`` (their sum).
    """

    num_gates = 4
    native_kind = "layernorm"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, **factory) -> None:
        super().__init__(input_size, hidden_size, bias, **factory)
        self.layernorm_ih = nn.LayerNorm(4 * hidden_size, **factory)
        self.layernorm_hh = nn.LayerNorm(4 * hidden_size, **factory)
        self.layernorm_cell = nn.LayerNorm(hidden_size, **factory)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Uniform weights as torch.nn does, but the norms start as the identity (α=1, β=0),
        # as Ba et al. initialise them.
        super().reset_parameters()
        for norm in (self.layernorm_ih, self.layernorm_hh, self.layernorm_cell):
            norm.reset_parameters()

    def precompute(self, inputs: torch.Tensor) -> torch.Tensor:
        projected = nn.functional.linear(inputs, self.weight_ih)
        normalised = self.layernorm_ih(projected)
        return normalised + self.bias_ih if self.bias else normalised

    def step(self, precomputed_t: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h, c = state
        recurrent = self.layernorm_hh(nn.functional.linear(self.recurrent_input(h), self.weight_hh))
        if self.bias:
            recurrent = recurrent + self.bias_hh
        i, f, g, o = (precomputed_t + recurrent).chunk(4, dim=-1)
        c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_next = torch.sigmoid(o) * torch.tanh(self.layernorm_cell(c_next))
        return h_next, (h_next, c_next)
