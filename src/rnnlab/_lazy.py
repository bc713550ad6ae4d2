"""Lazy package exports: a name is imported from its module on first use.

Reading results (the store, the report) must not pay for importing torch, yet users expect
``rnnlab.LSTM`` and ``rnnlab.models.SequenceClassifier`` at the package level.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def attach(package: str, exports: dict[str, str]) -> tuple[Callable, Callable, list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package``.

    ``exports`` maps each public name to the module that defines it.
    """

    def lazy_getattr(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            setattr(importlib.import_module(package), name, value)  # cache: next access is free
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def lazy_dir() -> list[str]:
        return sorted({*exports, *vars(importlib.import_module(package))})

    return lazy_getattr, lazy_dir, sorted(exports)
