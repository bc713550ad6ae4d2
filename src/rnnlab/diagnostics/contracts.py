"""Causal contracts: which input positions an output position may depend on.

A contract answers ``allowed(out_pos, in_pos, length)`` for the real part of one sequence
(positions ``0 .. length-1``). The built-in contracts, with ``offset = k``:

    "forward"    output t may depend on tokens j <= t + k
    "backward"   output t may depend on tokens j >= t - k
    "none"/"all" output t may depend on any token

Which one to declare:

* a next-word language model, output t predicts token t+1: ``"forward"``, offset 0 (position t
  sees tokens 0..t);
* a model whose output t predicts token t itself (inputs shifted right by one) must not see
  token t: ``"forward"``, offset -1 (tokens 0..t-1);
* the backward stack of seed 000, output t predicts token t-1: ``"backward"``, offset 0
  (tokens t..length-1).

Allowed pairs for time = 5, offset 0 (``x`` allowed, ``.`` forbidden):

    forward             backward
      j: 0 1 2 3 4        j: 0 1 2 3 4
    t=0  x . . . .      t=0  x x x x x
    t=1  x x . . .      t=1  . x x x x
    t=2  x x x . .      t=2  . . x x x
    t=3  x x x x .      t=3  . . . x x
    t=4  x x x x x      t=4  . . . . x

A custom contract is any callable ``allowed(out_pos, in_pos, length) -> bool``; for example
"at most two tokens of look-back": ``lambda t, j, length: t - 2 <= j <= t``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

AllowedFn = Callable[[int, int, int], bool]

CONTRACT_NAMES = ("forward", "backward", "none", "all")


@dataclass(frozen=True)
class Contract:
    """Which tokens each output position may see; build with :func:`resolve_contract`."""

    kind: str  # "forward" | "backward" | "none" | "custom"
    offset: int = 0  # widens (> 0) or narrows (< 0) the allowed window; see module docstring
    allowed_fn: AllowedFn | None = None  # only for kind == "custom"
    name: str = ""  # how a custom contract is shown in reports

    def allowed_mask(self, length: int) -> torch.Tensor:
        """Allowed pairs of one sequence: ``(length, length)`` bool, ``[out_pos, in_pos]``."""
        out_pos = torch.arange(length).unsqueeze(1)
        in_pos = torch.arange(length).unsqueeze(0)
        if self.kind == "forward":
            return in_pos <= out_pos + self.offset
        if self.kind == "backward":
            return in_pos >= out_pos - self.offset
        if self.kind == "none":
            return torch.ones(length, length, dtype=torch.bool)
        assert self.allowed_fn is not None
        return torch.tensor(
            [[bool(self.allowed_fn(t, j, length)) for j in range(length)] for t in range(length)],
            dtype=torch.bool,
        ).reshape(length, length)

    def describe(self) -> str:
        """Short human-readable form, e.g. ``forward (j <= t)`` or ``backward (j >= t+1)``."""
        if self.kind == "none":
            return "none (any token)"
        if self.kind == "custom":
            return f"custom ({self.name or 'user function'})"
        shift = self.offset if self.kind == "forward" else -self.offset
        bound = f"t{shift:+d}" if shift else "t"
        relation = "<=" if self.kind == "forward" else ">="
        return f"{self.kind} (j {relation} {bound})"


# What a caller may pass as one contract: a name, a Contract, or allowed(out_pos, in_pos, length).
ContractArg = str | Contract | AllowedFn


def resolve_contract(spec: ContractArg, offset: int = 0) -> Contract:
    """Turn a contract name, a :class:`Contract` or a callable into a :class:`Contract`.

    ``offset`` applies to the names "forward" and "backward" only; a :class:`Contract` keeps
    its own offset.
    """
    if isinstance(spec, Contract):
        return spec
    if isinstance(spec, str):
        name = spec.strip().lower()
        if name not in CONTRACT_NAMES:
            raise ValueError(
                f"contract must be one of {', '.join(repr(n) for n in CONTRACT_NAMES)} or a "
                f"callable allowed(out_pos, in_pos, length) -> bool, got {spec!r}"
            )
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise TypeError(f"offset must be an int, got {offset!r}")
        kind = "none" if name == "all" else name
        return Contract(kind=kind, offset=offset if kind != "none" else 0)
    if callable(spec):
        return Contract(kind="custom", allowed_fn=spec, name=getattr(spec, "__name__", ""))
    raise TypeError(
        f"contract must be a name ({', '.join(CONTRACT_NAMES)}), a Contract or a callable, "
        f"got {type(spec).__name__}"
    )


def resolve_contracts(
    contract: ContractArg | Mapping[str, ContractArg],
    names: list[str],
    offset: int,
) -> dict[str, Contract]:
    """One contract per output name: the same one for all, or a dict naming every output."""
    if not isinstance(contract, Mapping):
        return {name: resolve_contract(contract, offset) for name in names}
    missing = [name for name in names if name not in contract]
    unknown = [name for name in contract if name not in names]
    if missing or unknown:
        raise ValueError(
            f"contract dict must name exactly the model outputs {names}; "
            f"missing {missing}, unknown {unknown}"
        )
    return {name: resolve_contract(contract[name], offset) for name in names}


def real_positions(lengths: torch.Tensor, time: int, padding: str) -> torch.Tensor:
    """``(batch, time)`` bool, True at real tokens.

    lengths [1, 3], time 4:  post -> [[1,0,0,0],[1,1,1,0]]   pre -> [[0,0,0,1],[0,1,1,1]]
    """
    if padding not in ("post", "pre"):
        raise ValueError(f"padding must be 'post' or 'pre', got {padding!r}")
    position = torch.arange(time).unsqueeze(0)
    if padding == "post":
        return position < lengths.unsqueeze(1)
    return position >= (time - lengths).unsqueeze(1)


def pair_masks(
    contract: Contract, lengths: torch.Tensor, time: int, padding: str, audit_padding: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sequence allowed and forbidden pairs, each ``(batch, time, time)`` bool.

    lengths: ``(batch,)``; the contract sees positions counted from the first real token.
    Output positions in padding are in neither mask: they are not audited. An input in padding
    seen by a real output is forbidden when ``audit_padding`` (the model reads its padding),
    else not audited.
    """
    batch = lengths.shape[0]
    allowed = torch.zeros(batch, time, time, dtype=torch.bool)
    forbidden = torch.zeros(batch, time, time, dtype=torch.bool)
    for length in sorted({int(n) for n in lengths.tolist()}):
        items = lengths == length
        real = slice(0, length) if padding == "post" else slice(time - length, time)
        mask = contract.allowed_mask(length)
        allowed[items, real, real] = mask
        forbidden[items, real, real] = ~mask
        if audit_padding:
            pad = slice(length, time) if padding == "post" else slice(0, time - length)
            forbidden[items, real, pad] = True
    return allowed, forbidden
