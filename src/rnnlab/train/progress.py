"""A progress bar over training batches that stays quiet when nobody is watching."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress_enabled(requested: bool) -> bool:
    """Show a bar only if asked and stderr is a terminal (no bar noise in logs or pipes)."""
    return bool(requested) and sys.stderr.isatty()


class EpochBar:
    """Wraps one epoch's batches: ``for batch in bar: ...; bar.update_metrics(loss, acc)``."""

    def __init__(self, batches: Iterable[T], *, epoch: int, epochs: int, enabled: bool,
                 label: str = "") -> None:
        self._bar: Any = tqdm(
            batches,
            desc=f"{label + ' ' if label else ''}epoch {epoch}/{epochs}",
            unit="batch",
            leave=False,
            disable=not enabled,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def __iter__(self) -> Iterator[T]:
        return iter(self._bar)

    def update_metrics(self, loss: float, accuracy: float) -> None:
        if not self._bar.disable:
            self._bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.4f}", refresh=False)

    def close(self) -> None:
        self._bar.close()
