"""The dataset container every loader returns, and seeded stratified splitting.

A ``TextDataset`` holds three ``TextSplit``s (train, valid, test) of raw texts and integer
labels, plus the label names (``label_names[label]`` is the name of class ``label``)::

    dataset.train.texts   tuple of str, (examples,)
    dataset.train.labels  int64 array, (examples,), values in [0, num_classes)
    dataset.train.ids     tuple of str, (examples,), where each example came from
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnlab.data.errors import DataError


@dataclass(frozen=True, eq=False)
class TextSplit:
    """One split: texts (examples,), labels (examples,) int64, source ids (examples,)."""

    texts: tuple[str, ...]
    labels: np.ndarray
    ids: tuple[str, ...]

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels, dtype=np.int64)
        labels.setflags(write=False)
        object.__setattr__(self, "labels", labels)
        if not len(self.texts) == len(labels) == len(self.ids):
            raise DataError(
                f"texts, labels and ids must have the same length, got "
                f"{len(self.texts)}, {len(labels)}, {len(self.ids)}"
            )

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: Sequence[int] | np.ndarray) -> TextSplit:
        """The examples at ``index`` (in that order)."""
        index = np.asarray(index, dtype=np.int64)
        return TextSplit(
            tuple(self.texts[i] for i in index),
            self.labels[index],
            tuple(self.ids[i] for i in index),
        )

    def counts(self, num_classes: int) -> np.ndarray:
        """Examples per class: (num_classes,) int64."""
        return np.bincount(self.labels, minlength=num_classes)


@dataclass(frozen=True, eq=False)
class TextDataset:
    """A text-classification dataset: train/valid/test splits and label names."""

    name: str
    train: TextSplit
    valid: TextSplit
    test: TextSplit
    label_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def summary(self) -> str:
        """One line per split with the count per label, e.g. for a report."""
        lines = [f"{self.name}: {self.num_classes} classes {list(self.label_names)}"]
        for split_name in ("train", "valid", "test"):
            split: TextSplit = getattr(self, split_name)
            counts = split.counts(self.num_classes)
            per_label = ", ".join(f"{n}={c}" for n, c in zip(self.label_names, counts, strict=True))
            lines.append(f"  {split_name}: {len(split)} ({per_label})")
        return "\n".join(lines)


def check_fractions(**fractions: float) -> None:
    """Each named fraction in [0, 1) and their sum below 1, else DataError naming them."""
    for name, value in fractions.items():
        if not 0.0 <= value < 1.0:
            raise DataError(f"{name} must be in [0, 1), got {value}")
    if sum(fractions.values()) >= 1.0:
        named = " + ".join(fractions)
        raise DataError(f"{named} must be below 1, got {sum(fractions.values())}")


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split example indices into (rest, held_out), ``fraction`` of every class held out.

    Per class with n examples, ``round(fraction * n)`` are held out (chosen by
    ``numpy.random.default_rng(seed)``), at least one if ``fraction > 0`` and n >= 2.
    Both index arrays are sorted, so the splits keep the input order.
    """
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"split fraction must be in [0, 1), got {fraction}")
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = round(fraction * len(members))
        if fraction > 0 and len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        held.append(rng.permutation(members)[:count])
    held_out = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    rest = np.setdiff1d(np.arange(len(labels)), held_out)
    return rest.astype(np.int64), held_out.astype(np.int64)


def split_off(split: TextSplit, fraction: float, seed: int) -> tuple[TextSplit, TextSplit]:
    """(rest, held_out) of a split, stratified by label; see ``stratified_split``."""
    rest, held_out = stratified_split(split.labels, fraction, seed)
    return split.subset(rest), split.subset(held_out)
