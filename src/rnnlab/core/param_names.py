"""``torch.nn.LSTM`` parameter names for a stack of cells.

A layer keeps its cells in ``cells`` (layer-major, forward before backward), so a cell's own
names read ``cells.3.weight_ih``. The state dict uses torch's flat names instead
(``weight_ih_l1_reverse`` for the backward cell of layer 1), so that a ``torch.nn.LSTM`` state
dict loads into an rnnlab layer and back. Extra parameters of variant cells follow the same
rule: ``cells.0.layernorm_ih.weight`` is saved as ``layernorm_ih_weight_l0``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def torch_suffix(index: int, num_directions: int) -> str:
    """``_l{layer}`` plus ``_reverse`` for the backward direction."""
    layer, direction = divmod(index, num_directions)
    return f"_l{layer}" + ("_reverse" if direction == 1 else "")


def flat_to_cell_names(cells: Sequence[nn.Module], num_directions: int) -> dict[str, str]:
    """Map ``weight_ih_l0``-style names to ``cells.0.weight_ih``-style names.

    Only for entries the cells still hold themselves (sub-module parameters, a plain-module
    user cell's weights): adopted weights already sit on the layer under torch's names.
    """
    mapping = {}
    for index, cell in enumerate(cells):
        suffix = torch_suffix(index, num_directions)
        adopted = set(getattr(cell, "adopted_names", tuple)())
        for name in cell.state_dict(keep_vars=True):
            if name in adopted:
                continue
            mapping[name.replace(".", "_") + suffix] = f"cells.{index}.{name}"
    return mapping


def rename_to_flat(state_dict: dict, prefix: str, mapping: dict[str, str]) -> None:
    """In place: ``{prefix}cells.i.name`` → ``{prefix}name_l…``, keeping the key order."""
    inverse = {cell_name: flat for flat, cell_name in mapping.items()}
    for key in [k for k in state_dict if k.startswith(prefix + "cells.")]:
        local = key[len(prefix):]
        if local in inverse:
            state_dict[prefix + inverse[local]] = state_dict.pop(key)


def rename_to_cells(state_dict: dict, prefix: str, mapping: dict[str, str]) -> None:
    """In place: ``{prefix}name_l…`` → ``{prefix}cells.i.name`` (inverse of rename_to_flat)."""
    for key in list(state_dict):
        if not key.startswith(prefix):
            continue
        local = key[len(prefix):]
        if local in mapping:
            state_dict[prefix + mapping[local]] = state_dict.pop(key)
