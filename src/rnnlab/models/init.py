"""Initialising a classifier: Keras's initialisers or torch's, each part from its own seed.

Each part (``embedding``, ``recurrent``, ``dense``, ``output``) draws from a
``torch.Generator`` seeded by ``(seed, part name)``, never from the global RNG. Two models
built with the same seed therefore start their shared parts from identical weights, whatever
else differs between them: seed 002 compares arrangements "with the same initial weights for
every model within a run", and this is as close as different architectures can get (the
embedding and output layer always agree, the dense layer when its input width agrees, and the
recurrent block cell by cell as long as the shapes agree, e.g. layer 0 of SS_RSF_LSTM and of
MS_RST_LSTM).

``"keras"`` (Keras 3 defaults, as seed 002 ran)::

    embedding          U(-0.05, 0.05)                        (Embedding: "uniform")
    weight_ih          glorot_uniform                        (kernel)
    weight_hh          orthogonal                            (recurrent_kernel)
    biases             0, LSTM forget gate 1 (in bias_ih)    (unit_forget_bias=True)
    dense, output      glorot_uniform weight, 0 bias         (Dense)

``"torch"``: torch's defaults (embedding N(0, 1), cells U(±1/√hidden), Linear U(±1/√fan_in)),
drawn from the part generators.
"""

from __future__ import annotations

import hashlib
import math

import torch
from torch import nn

from rnnlab.core.cell_variants import LayerNormLSTMCell, PeepholeLSTMCell
from rnnlab.core.cells import LSTMCell

PARTS = ("embedding", "recurrent", "dense", "output")
# Cells whose gates are ordered i, f, g, o, so rows [hidden, 2*hidden) are the forget gate.
_FORGET_GATE_CELLS = (LSTMCell, PeepholeLSTMCell, LayerNormLSTMCell)
_KERAS_EMBEDDING_BOUND = 0.05  # keras.initializers.RandomUniform(-0.05, 0.05)


def part_seed(seed: int, part: str) -> int:
    """A 63-bit seed for ``part``, stable across processes and Python versions.

    Derived by hashing rather than ``seed + offset`` so that seeds of different runs and
    parts never collide by arithmetic.
    """
    digest = hashlib.sha256(f"rnnlab.init/{int(seed)}/{part}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def part_generator(seed: int, part: str) -> torch.Generator:
    """A CPU generator seeded with :func:`part_seed`."""
    return torch.Generator().manual_seed(part_seed(seed, part))


@torch.no_grad()
def init_embedding(embedding: nn.Embedding, scheme: str, generator: torch.Generator) -> None:
    if scheme == "keras":
        nn.init.uniform_(embedding.weight, -_KERAS_EMBEDDING_BOUND, _KERAS_EMBEDDING_BOUND,
                         generator=generator)
    else:
        nn.init.normal_(embedding.weight, generator=generator)


@torch.no_grad()
def init_linear(linear: nn.Linear, scheme: str, generator: torch.Generator) -> None:
    if scheme == "keras":
        nn.init.xavier_uniform_(linear.weight, generator=generator)
        if linear.bias is not None:
            nn.init.zeros_(linear.bias)
        return
    # torch.nn.Linear.reset_parameters: kaiming_uniform(a=√5) is U(±1/√fan_in), bias likewise.
    bound = 1.0 / math.sqrt(linear.in_features)
    nn.init.uniform_(linear.weight, -bound, bound, generator=generator)
    if linear.bias is not None:
        nn.init.uniform_(linear.bias, -bound, bound, generator=generator)


@torch.no_grad()
def init_recurrent(recurrent: nn.Module, scheme: str, generator: torch.Generator) -> None:
    """Initialise every cell of ``recurrent.cells``, in order (layer-major, forward first)."""
    for cell in recurrent.cells:
        # Sub-modules (the LayerNorms of a layer-normalised LSTM) start as the identity.
        for child in cell.children():
            if hasattr(child, "reset_parameters"):
                child.reset_parameters()
        if scheme == "keras":
            _keras_cell(cell, generator)
        else:
            bound = 1.0 / math.sqrt(cell.hidden_size)
            for _, parameter in _cell_weights(cell):
                nn.init.uniform_(parameter, -bound, bound, generator=generator)


def _cell_weights(cell: nn.Module):
    # Inside a layer a RecurrentCell's parameters live on the layer (torch names);
    # named_weights finds them. A plain-module user cell still owns its own.
    if hasattr(cell, "named_weights"):
        return list(cell.named_weights())
    return list(cell.named_parameters(recurse=False))


def _keras_cell(cell: nn.Module, generator: torch.Generator) -> None:
    for name, parameter in _cell_weights(cell):
        if name == "weight_hh":
            nn.init.orthogonal_(parameter, generator=generator)
        elif name == "weight_peephole" or parameter.dim() < 2:
            # Biases, and peephole weights: starting at 0 makes a peephole LSTM start as a
            # plain one (Keras has no peephole cell to copy).
            nn.init.zeros_(parameter)
        else:  # weight_ih, a projection, a user cell's kernels
            nn.init.xavier_uniform_(parameter, generator=generator)
    if isinstance(cell, _FORGET_GATE_CELLS) and getattr(cell, "bias_ih", None) is not None:
        # Keras's unit_forget_bias; torch adds bias_ih and bias_hh, so one of them carries it.
        hidden = cell.hidden_size
        cell.bias_ih[hidden:2 * hidden] = 1.0
