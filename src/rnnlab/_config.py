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
