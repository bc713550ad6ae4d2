"""Names of the seed-002 recurrent arrangements, parsed into what they mean.

Seed 002 names each arrangement ``{stack}_{output}_{cell}``::

    SS_RSF_LSTM      single stack: one LSTM layer, classifier reads its last state
    MS_RST_biGRU     multi stack: one bidirectional GRU layer, classifier reads the
                     mean of the states at all time steps

- stack ``SS`` (single stack) is one recurrent layer; ``MS`` (multi stack) is two
  recurrent layers: either two stacked layers (``LSTM``/``GRU``) or one bidirectional
  layer (``biLSTM``/``biGRU``, a forward and a backward layer side by side).
- output ``RSF`` ("return sequences false") reads the last state; ``RST`` ("return
  sequences true") mean-pools the states of all time steps.

``SS_*_bi*`` does not exist: a bidirectional layer is already two recurrent layers,
which is what ``MS`` means. This module only parses strings (no torch);
:meth:`rnnlab.models.ClassifierConfig.from_arrangement` turns a name into a model config.
It lives in ``models`` (not ``experiments``) because models may not import experiments;
``rnnlab.experiments`` re-exports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["SEED_ARRANGEMENTS", "ArrangementName", "label_of_model_config", "model_label",
           "parse_arrangement"]

Stack = Literal["SS", "MS"]
Output = Literal["RSF", "RST"]
Cell = Literal["LSTM", "GRU"]
Pooling = Literal["last", "mean"]

_STACKS: tuple[Stack, ...] = ("SS", "MS")
_OUTPUTS: tuple[Output, ...] = ("RSF", "RST")
# The seed's cell spellings; the "bi" prefix marks one bidirectional layer.
_CELL_SPELLINGS: tuple[str, ...] = ("LSTM", "GRU", "biLSTM", "biGRU")
_POOLING_OF_OUTPUT: dict[str, Pooling] = {"RSF": "last", "RST": "mean"}

# The 12 arrangements in the seed's order: stack, then output type, then cell.
SEED_ARRANGEMENTS: tuple[str, ...] = tuple(
    f"{stack}_{output}_{cell}"
    for stack in _STACKS
    for output in _OUTPUTS
    for cell in _CELL_SPELLINGS
    if not (stack == "SS" and cell.startswith("bi"))
)


@dataclass(frozen=True)
class ArrangementName:
    """What an arrangement name says about the model.

    Attributes:
        stack: ``"SS"`` (one recurrent layer) or ``"MS"`` (two recurrent layers).
        output: ``"RSF"`` (last state) or ``"RST"`` (mean of all states).
        cell: ``"LSTM"`` or ``"GRU"``.
        bidirectional: True for ``biLSTM``/``biGRU`` (only with ``MS``).
        num_layers: stacked layers: 1 for ``SS`` and for ``MS_*_bi*`` (one
            bidirectional layer), 2 for ``MS_*_LSTM``/``MS_*_GRU``.
        pooling: ``"last"`` for ``RSF``, ``"mean"`` for ``RST``.
    """

    stack: Stack
    output: Output
    cell: Cell
    bidirectional: bool
    num_layers: int
    pooling: Pooling

    @property
    def name(self) -> str:
        """The canonical name, e.g. ``"MS_RST_biGRU"``."""
        prefix = "bi" if self.bidirectional else ""
        return f"{self.stack}_{self.output}_{prefix}{self.cell}"


def _invalid(name: str, why: str) -> ValueError:
    valid = ", ".join(SEED_ARRANGEMENTS)
    return ValueError(f"arrangement name {name!r} is invalid: {why}. Valid names: {valid}")


def parse_arrangement(name: str) -> ArrangementName:
    """Parse ``"{SS|MS}_{RSF|RST}_{LSTM|GRU|biLSTM|biGRU}"`` into an :class:`ArrangementName`.

    >>> parse_arrangement("MS_RST_biLSTM")
    ArrangementName(stack='MS', output='RST', cell='LSTM', bidirectional=True, num_layers=1, pooling='mean')
    >>> parse_arrangement("MS_RSF_GRU").num_layers
    2

    Raises:
        ValueError: naming the part that is wrong and listing the valid names, e.g. for
            ``"SS_RSF_biLSTM"`` (a bidirectional layer is two layers, so it is ``MS``).
    """  # noqa: E501 - the doctest output is one long line
    if not isinstance(name, str):
        raise TypeError(f"arrangement name must be a str, got {type(name).__name__}")
    parts = name.split("_")
    if len(parts) != 3:
        raise _invalid(name, "expected three parts STACK_OUTPUT_CELL separated by '_'")
    stack, output, cell_spelling = parts
    if stack not in _STACKS:
        raise _invalid(name, f"stack must be one of {list(_STACKS)}, got {stack!r}")
    if output not in _OUTPUTS:
        raise _invalid(name, f"output must be one of {list(_OUTPUTS)}, got {output!r}")
    if cell_spelling not in _CELL_SPELLINGS:
        raise _invalid(name, f"cell must be one of {list(_CELL_SPELLINGS)}, got {cell_spelling!r}")
    bidirectional = cell_spelling.startswith("bi")
    if stack == "SS" and bidirectional:
        raise _invalid(
            name,
            "SS (single stack) means one recurrent layer, but a bidirectional layer is two "
            f"layers (forward and backward); use MS_{output}_{cell_spelling}",
        )
    cell: Cell = "LSTM" if cell_spelling.endswith("LSTM") else "GRU"
    num_layers = 2 if stack == "MS" and not bidirectional else 1
    return ArrangementName(
        stack=stack,  # type: ignore[arg-type]  # checked against _STACKS above
        output=output,  # type: ignore[arg-type]  # checked against _OUTPUTS above
        cell=cell,
        bidirectional=bidirectional,
        num_layers=num_layers,
        pooling=_POOLING_OF_OUTPUT[output],
    )


def model_label(
    arrangement: str | None, *, cell: str, num_layers: int, bidirectional: bool, pooling: str
) -> str:
    """A name for what a classifier trains: its arrangement, plus what was changed from it.

    A seed-002 name only describes the four choices it encodes, so a model built from
    ``SS_RSF_LSTM`` with another cell, depth, direction or pooling must not be recorded as
    ``SS_RSF_LSTM``. Each change is appended as ``+<what>``; without an arrangement the name
    is generated from the model itself:

    >>> model_label("MS_RST_biGRU", cell="layernorm", num_layers=1, bidirectional=True,
    ...             pooling="mean")
    'MS_RST_biGRU+layernorm'
    >>> model_label("SS_RSF_LSTM", cell="peephole", num_layers=3, bidirectional=True,
    ...             pooling="max")
    'SS_RSF_LSTM+peephole+3layers+bidirectional+maxpool'
    >>> model_label(None, cell="gru", num_layers=2, bidirectional=False, pooling="last")
    'GRUx2_last'

    The label is computed from the saved model config, never stored as a key, so stores and
    run directories written before labels existed read back with the same keys.
    """
    if arrangement is None:
        return f"{'bi' if bidirectional else ''}{cell.upper()}x{num_layers}_{pooling}"
    parsed = parse_arrangement(arrangement)
    changes = []
    if cell.lower() != parsed.cell.lower():
        changes.append(cell)
    if num_layers != parsed.num_layers:
        changes.append(f"{num_layers}layers")
    if bidirectional != parsed.bidirectional:
        changes.append("bidirectional" if bidirectional else "unidirectional")
    if pooling != parsed.pooling:
        changes.append(f"{pooling}pool")
    return "+".join((parsed.name, *changes))


def label_of_model_config(model: Mapping[str, Any], fallback: str) -> str:
    """:func:`model_label` of a saved ``ClassifierConfig.to_dict()`` (built from the
    arrangement ``fallback`` if it names none); ``fallback`` itself when the dict does not
    describe a seed-002 classifier (a toy run, a hand-written config)."""
    try:
        return model_label(model.get("arrangement") or fallback, cell=str(model["cell"]),
                           num_layers=int(model["num_layers"]),
                           bidirectional=bool(model["bidirectional"]),
                           pooling=str(model["pooling"]))
    except (KeyError, TypeError, ValueError):
        return fallback
