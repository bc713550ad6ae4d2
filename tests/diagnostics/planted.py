"""A hand-built character model whose LSTM unit 3 is the quote indicator (seed 003).

Two units do it. Unit 4 is a flip-flop: on a double quote its forget gate closes, and its
input gate opens only if it was off, so a quote sets ``c_4`` to 1 outside a quotation and to
0 inside; on any other character f ≈ 1, i ≈ 0 keep it. Unit 3 forgets every step and reads
``h_4`` of the step before and whether this is a quote::

    g_3 = tanh(K (is_quote + h_4(t−1) / tanh(1) − ½))      on ⇔ is_quote or inside before

so ``h_3 ≈ +0.76`` exactly at the tokens ``"[^"]*"`` matches (both quote marks and what they
enclose) and ``≈ −0.76`` everywhere else: AUROC 1 for that pattern. Output gates are open;
every other weight is small noise. K = 20 saturates every gate.
"""

from __future__ import annotations

import math

import torch
from torch import nn

import rnnlab

PLANTED_UNIT = 3
MEMORY_UNIT = 4
QUOTE_PATTERN = r'"[^"]*"'  # a quotation, both quote marks included
CHARACTERS = tuple(' "abcdefghijklmnopqrstuvwxyz.,')
K = 20.0
QUOTED_TEXT = ('he said "stay here" and left. then "no, go" she said, "fine." '
               'they sat a while and "one more" came at last.')


def plant_quote_unit(embedding: torch.Tensor, lstm: nn.Module, quote_id: int,
                     *, seed: int = 0) -> None:
    """Overwrite ``embedding (vocab, dim)`` and layer 0 of an rnnlab/torch LSTM in place."""
    generator = torch.Generator().manual_seed(seed)
    hidden, on = lstm.hidden_size, math.tanh(1.0)
    with torch.no_grad():
        embedding.copy_(torch.rand(embedding.shape, generator=generator) * 2 - 1)
        embedding[:, 0] = 0.0
        embedding[quote_id] = 0.0
        embedding[quote_id, 0] = 1.0  # dimension 0 is "this is a quote", nothing else
        names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        w_ih, w_hh, b_ih, b_hh = (getattr(lstm, name) for name in names)
        for weight in (w_ih, w_hh, b_ih, b_hh):
            weight.copy_((torch.rand(weight.shape, generator=generator) * 2 - 1) * 0.3)
        w_ih[:, 0] = 0.0  # the quote dimension reaches units 3 and 4 only

        def gate(index: int, unit: int) -> int:  # rows in torch's order i, f, g, o
            return index * hidden + unit

        for unit in (PLANTED_UNIT, MEMORY_UNIT):
            for index in range(4):
                row = gate(index, unit)
                w_ih[row], w_hh[row], b_ih[row], b_hh[row] = 0.0, 0.0, 0.0, 0.0
            b_ih[gate(3, unit)] = 10.0  # output gate open
        i, f, g = (gate(index, MEMORY_UNIT) for index in range(3))
        w_ih[i, 0], w_hh[i, MEMORY_UNIT], b_ih[i] = 2 * 10.0, -30.0, -10.0  # opens if off
        w_ih[f, 0], b_ih[f] = -2 * 10.0, 10.0  # closes on a quote
        b_ih[g] = K  # writes +1
        i, f, g = (gate(index, PLANTED_UNIT) for index in range(3))
        b_ih[i], b_ih[f] = 10.0, -10.0  # rewritten every step
        w_ih[g, 0], w_hh[g, MEMORY_UNIT], b_ih[g] = K, K / on, -K / 2


class PlantedCharModel(nn.Module):
    """ids (batch, time) → logits; an embedding and one rnnlab LSTM layer of 8 units."""

    def __init__(self, hidden: int = 8, dim: int = 5) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(CHARACTERS), dim)
        self.rnn = rnnlab.LSTM(dim, hidden, batch_first=True)
        self.decoder = nn.Linear(hidden, len(CHARACTERS))
        plant_quote_unit(self.embedding.weight, self.rnn, CHARACTERS.index('"'))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.rnn(self.embedding(ids)).output)


def encode(text: str) -> torch.Tensor:
    """Character ids ``(time,)`` of ``text`` over :data:`CHARACTERS`."""
    return torch.tensor([CHARACTERS.index(character) for character in text])
