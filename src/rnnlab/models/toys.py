"""Models for the toy tasks: recurrent layers of any cell between an input and a head.

::

    adding   x (batch, T, 2)  ──────────────┐
    copy     ids (batch, T+20) ─ one-hot ───┼─ Recurrent(cell) ─┬─ last step ─ linear ─ (batch,)
    quotes   ids (batch, time) ─ embedding ─┘    (batch, time,  └─ every step ─ linear ─
                                                  hidden)           (batch, time, classes)

The adding problem reads the sum off the last state (a regression); copy memory and the
character language model of quote detection predict a class at every step. One layer by
default; ``layers`` stacks more (Karpathy et al.'s character models have two or three), the
head reading the top one. The cell is any
name ``rnnlab.core.Recurrent`` takes ("rnn_tanh", "rnn_relu", "gru", "lstm", "peephole",
"cifg", "layernorm"), so RNN, GRU, LSTM and the variants train side by side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab._config import check_known_keys, is_int
from rnnlab.core import Recurrent
from rnnlab.core.registry import ALL_CELLS
from rnnlab.data.toys import TOY_TASKS

State = torch.Tensor | tuple[torch.Tensor, ...]  # h_0, or (h_0, c_0) for LSTM cells

__all__ = ["CELL_ALIASES", "TOY_TASKS", "ToyModel", "ToyModelConfig", "resolve_cell"]

# What users type for the three cells seed 003 compares.
CELL_ALIASES = {"rnn": "rnn_tanh", "tanh": "rnn_tanh", "relu": "rnn_relu"}
FORGET_GATE_CELLS = frozenset({"lstm", "peephole", "layernorm"})  # (i, f, g, o) gate order


def resolve_cell(name: str) -> str:
    """A cell name as the core registers it ("rnn" -> "rnn_tanh"); ValueError listing names."""
    resolved = CELL_ALIASES.get(name, name) if isinstance(name, str) else name
    if resolved not in ALL_CELLS:
        allowed = sorted({*ALL_CELLS, *CELL_ALIASES})
        raise ValueError(f"cell must be one of {allowed}, got {name!r}")
    return resolved


@dataclass(frozen=True)
class ToyModelConfig:
    """A toy model; defaults are the sizes of the bundled studies' default profile."""

    task: str  # "adding" (regression on the last state) or "copy"/"quotes" (per step)
    cell: str = "lstm"  # any registered cell or alias ("rnn" = tanh RNN)
    hidden_size: int = 128  # Arjovsky et al. use 128 LSTM units on copy memory
    classes: int = 10  # per-step outputs: copy memory's alphabet, or the characters
    embedding_size: int = 32  # quotes only: character embedding width
    layers: int = 1  # stacked recurrent layers; the head reads the top one
    forget_bias: float | None = None  # None: torch's init; else the LSTM forget-gate bias
    # (Gers et al. 2000; Jozefowicz et al. 2015 start it at 1 so the cell remembers)

    def __post_init__(self) -> None:
        if self.task not in TOY_TASKS:
            raise ValueError(f"task must be one of {list(TOY_TASKS)}, got {self.task!r}")
        object.__setattr__(self, "cell", resolve_cell(self.cell))
        for name, high in (("hidden_size", 100_000), ("classes", 100_000),
                           ("embedding_size", 100_000), ("layers", 100)):
            value = getattr(self, name)
            if not is_int(value) or not 1 <= value <= high:
                raise ValueError(f"{name} must be an int in [1, {high}], got {value!r}")
        if self.forget_bias is not None:
            if self.cell not in FORGET_GATE_CELLS:
                raise ValueError(f"forget_bias needs a cell with a forget gate "
                                 f"{sorted(FORGET_GATE_CELLS)}, got cell {self.cell!r}")
            if isinstance(self.forget_bias, bool) or not isinstance(
                    self.forget_bias, int | float) or not -100 <= self.forget_bias <= 100:
                raise ValueError(f"forget_bias must be a number in [-100, 100] or None, got "
                                 f"{self.forget_bias!r}")
        if self.task != "adding" and self.classes < 2:
            raise ValueError(f"classes must be >= 2 for task {self.task!r}, got {self.classes}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # Configs written before these options stay the same (and their runs resumable).
        if data["forget_bias"] is None:
            del data["forget_bias"]
        if data["layers"] == 1:
            del data["layers"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyModelConfig:
        check_known_keys(dict(data), cls, "toy model key")
        return cls(**data)


class ToyModel(nn.Module):
    """Input encoder → ``config.layers`` recurrent layers → linear head (see the module
    docstring).

    ``forward(inputs)``: adding ``(batch, T, 2)`` → ``(batch,)``; copy/quotes ids
    ``(batch, time)`` → logits ``(batch, time, classes)``. ``recurrent_input(inputs)`` is
    what the recurrent layer ``self.rnn`` reads, ``(batch, time, features)``, for
    diagnostics that run the layer step by step.
    """

    def __init__(self, config: ToyModelConfig) -> None:
        super().__init__()
        self.config = config
        if config.task == "adding":
            input_size = 2
        elif config.task == "copy":
            input_size = config.classes  # one-hot, as Arjovsky et al.
        else:
            self.embedding = nn.Embedding(config.classes, config.embedding_size)
            input_size = config.embedding_size
        self.rnn = Recurrent(input_size, config.hidden_size, num_layers=config.layers,
                             batch_first=True, cell=config.cell)
        self.head = nn.Linear(config.hidden_size, 1 if config.task == "adding" else config.classes)
        if config.forget_bias is not None:
            # Gates are stacked (input, forget, candidate, output): rows hidden … 2·hidden.
            hidden = config.hidden_size
            with torch.no_grad():
                for layer in range(config.layers):
                    getattr(self.rnn, f"bias_ih_l{layer}")[hidden:2 * hidden] = config.forget_bias
                    getattr(self.rnn, f"bias_hh_l{layer}")[hidden:2 * hidden] = 0.0

    def recurrent_input(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.config.task == "adding":
            if inputs.dim() != 3 or inputs.shape[-1] != 2:
                raise ValueError(f"adding inputs must be (batch, T, 2), got {tuple(inputs.shape)}")
            return inputs
        if inputs.dim() != 2:
            raise ValueError(f"ids must be (batch, time), got shape {tuple(inputs.shape)}")
        if self.config.task == "copy":
            return F.one_hot(inputs, self.config.classes).to(self.head.weight.dtype)
        return self.embedding(inputs)

    def forward(self, inputs: torch.Tensor, hx: State | None = None, *,
                return_state: bool = False) -> torch.Tensor | tuple[torch.Tensor, State]:
        """Outputs from the initial state ``hx`` (zeros if None; as torch's: ``(h_0, c_0)``
        for LSTM cells, each ``(layers, batch, hidden)``); with ``return_state`` also the final
        state in that form, which a stream's next window starts from."""
        result = self.rnn(self.recurrent_input(inputs), hx)
        output = result.output  # (batch, time, hidden)
        if self.config.task == "adding":
            outputs = self.head(output[:, -1]).squeeze(-1)
        else:
            outputs = self.head(output)
        return (outputs, result.state) if return_state else outputs
