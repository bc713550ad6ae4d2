"""Which cell a layer builds from its ``cell=`` argument."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from rnnlab.core.cell_variants import CIFGLSTMCell, LayerNormLSTMCell, PeepholeLSTMCell
from rnnlab.core.cells import GRUCell, LSTMCell, RNNCell

CellFactory = Callable[..., nn.Module]

LSTM_CELLS: dict[str, type[nn.Module]] = {
    "lstm": LSTMCell,
    "peephole": PeepholeLSTMCell,
    "cifg": CIFGLSTMCell,
    "layernorm": LayerNormLSTMCell,
}
GRU_CELLS: dict[str, type[nn.Module]] = {"gru": GRUCell}
RNN_CELLS: dict[str, type[nn.Module]] = {"rnn_tanh": RNNCell, "rnn_relu": RNNCell}
ALL_CELLS = {**LSTM_CELLS, **GRU_CELLS, **RNN_CELLS}


def build_cell(
    cell: str | CellFactory,
    input_size: int,
    hidden_size: int,
    *,
    bias: bool,
    proj_size: int,
    allowed: dict[str, type[nn.Module]],
    factory_kwargs: dict,
) -> nn.Module:
    """Build one cell from a registered name or a user factory (a class or a function).

    A user factory is called as ``factory(input_size, hidden_size, bias=bias)`` and must return
    a module following :class:`~rnnlab.core.cells.RecurrentCell`'s protocol.
    """
    if isinstance(cell, str):
        if cell not in allowed:
            raise ValueError(
                f"cell must be one of {sorted(allowed)} (or a cell class), got {cell!r}"
            )
        if proj_size and cell != "lstm":
            raise ValueError(
                f"proj_size={proj_size} is only supported with cell='lstm', got cell={cell!r}"
            )
        cls = allowed[cell]
        if cls is LSTMCell:
            return LSTMCell(input_size, hidden_size, bias, proj_size, **factory_kwargs)
        if cls is RNNCell:
            nonlinearity = cell.removeprefix("rnn_")
            return RNNCell(input_size, hidden_size, bias, nonlinearity, **factory_kwargs)
        return cls(input_size, hidden_size, bias, **factory_kwargs)
    if not callable(cell):
        raise TypeError(f"cell must be a name or a cell class/factory, got {type(cell).__name__}")
    if proj_size:
        raise ValueError(f"proj_size={proj_size} is only supported with cell='lstm'")
    built = cell(input_size, hidden_size, bias=bias)
    missing = [name for name in ("state_sizes", "forward") if not hasattr(built, name)]
    if not isinstance(built, nn.Module) or missing:
        raise TypeError(
            f"cell factory {cell!r} must return an nn.Module with state_sizes and "
            f"forward(x_t, state) -> (h_t, state); missing {missing or ['nn.Module base']}"
        )
    return built


def check_cell_instance(cell: nn.Module, input_size: int, hidden_size: int, needed: int) -> None:
    """A cell instance serves a layer of exactly one cell, of the layer's sizes."""
    if needed != 1:
        raise ValueError(
            f"cell={type(cell).__name__}(...) is one cell instance, but this layer needs "
            f"{needed} (num_layers × directions), with different input sizes; pass the class "
            f"or a factory instead, e.g. cell={type(cell).__name__} or "
            f"functools.partial({type(cell).__name__}, ...)"
        )
    for name, expected in (("input_size", input_size), ("hidden_size", hidden_size)):
        got = getattr(cell, name, expected)
        if got != expected:
            raise ValueError(f"cell instance has {name}={got} but the layer was built with "
                             f"{name}={expected}")
    missing = [name for name in ("state_sizes", "forward") if not hasattr(cell, name)]
    if missing:
        raise TypeError(f"cell instance {type(cell).__name__} must follow the cell protocol "
                        f"(state_sizes and forward(x_t, state)); missing {missing}")
