"""One rule for every config read from a dict (a file, a checkpoint, a study row): an unknown
key is an error that lists the known ones, so a typo never silently falls back to a default."""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def check_known_keys(data: dict[str, Any], cls: type, what: str) -> None:
    """Raise ``ValueError("unknown {what}(s) [...]; allowed: [...]")`` for keys ``cls`` lacks."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; allowed: {sorted(known)}")


def is_int(value: Any) -> bool:
    """True for an ``int`` that is not a ``bool`` (``True`` is an int in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_positive_ints(config: object, names: tuple[str, ...]) -> None:
    """Raise ``ValueError("{name} must be an int >= 1, got ...")`` for the first field of
    ``config`` named in ``names`` that is not an int >= 1 (a bool is not one)."""
    for name in names:
        value = getattr(config, name)
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
