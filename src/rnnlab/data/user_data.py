"""The user's own labelled texts: a folder of class sub-folders, a CSV file or a JSONL file.

Accepted layouts::

    reviews/                      reviews.csv               reviews.jsonl
      neg/ a.txt b.txt ...          text,label                {"text": "...", "label": "neg"}
      pos/ c.txt ...                "great film",pos          {"text": "...", "label": "pos"}

A folder may also hold ``train/``, ``valid/`` and ``test/`` sub-folders, each in the class
layout (the aclImdb layout). Any split not given is held out from train, stratified by label
and seeded: first ``test_fraction`` of each class to test, then ``valid_fraction`` of each
class to valid.

Table files may be gzipped (``reviews.csv.gz``). Their rules (one record per line, distinct
header names, non-empty texts, how JSONL labels ``1``/``1.0``/``true`` compare) are in
``rnnlab.data.tables``; every broken rule is a DataError naming the file and physical line.

Labels are names (strings; JSONL numbers and booleans become "1", "true"). Class ids follow
the sorted names (numerically when every name is an integer), so "neg" = 0 and "pos" = 1.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnlab.data.errors import DataError, DataNotFoundError
from rnnlab.data.files import read_text
from rnnlab.data.splits import TextDataset, TextSplit, check_fractions, split_off
from rnnlab.data.tables import Example, read_table


def _how_to_get(argument: str) -> str:
    return (
        f"Pass as {argument} a folder with one sub-folder per class, or a .csv/.jsonl file "
        f"with text and label fields."
    )


def read_class_folder(folder: str | os.PathLike[str], argument: str = "path") -> list[Example]:
    """Every file under ``folder/<class>/`` as an example of that class."""
    root = Path(folder)
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"{argument}={str(folder)!r} has no class sub-folders; expected "
            f"{root.name}/<class>/<file>.txt. {_how_to_get(argument)}"
        )
    examples: list[Example] = []
    for class_dir in classes:
        files = sorted(p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise DataError(
                f"class {class_dir.name!r} ({class_dir}) has no examples; add text files to "
                f"it or remove the folder"
            )
        for file in files:
            text = read_text(file, argument=f"{argument} file")
            examples.append((text, class_dir.name, f"{class_dir.name}/{file.name}"))
    return examples


def read_examples(
    path: str | os.PathLike[str],
    text_field: str = "text",
    label_field: str = "label",
    argument: str = "path",
    multiline: bool = False,
) -> list[Example]:
    """Examples from a class folder or a table file, decided by what ``path`` is
    (``multiline``: quoted CSV fields may span lines, see ``rnnlab.data.tables``)."""
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"{argument}={str(path)!r} does not exist. {_how_to_get(argument)}")
    if path.is_dir():
        return read_class_folder(path, argument)
    return read_table(path, text_field, label_field, argument, multiline)


def label_order(names: Sequence[str]) -> tuple[str, ...]:
    """Sorted distinct names; numerically if all are integers ("2" < "10")."""
    distinct = set(names)
    if all(name.lstrip("-").isdigit() for name in distinct):
        return tuple(sorted(distinct, key=int))
    return tuple(sorted(distinct))


def _to_split(examples: list[Example], label_names: tuple[str, ...], where: str) -> TextSplit:
    index = {name: i for i, name in enumerate(label_names)}
    for _, label, source in examples:
        if label not in index:
            raise DataError(
                f"label {label!r} ({where}, {source}) never occurs in the training data "
                f"(labels there: {list(label_names)}); a model cannot learn it. Fix the label "
                f"or add training examples of it."
            )
    return TextSplit(
        tuple(e[0] for e in examples),
        np.array([index[e[1]] for e in examples], dtype=np.int64),
        tuple(e[2] for e in examples),
    )


def _one_class_message(path: Path, labels: tuple[str, ...], examples: int,
                       label_field: str) -> str:
    where = (f"path={str(path)!r} has one class sub-folder, {labels[0]!r}" if path.is_dir()
             else f"path={str(path)!r}: label field {label_field!r} holds one class, "
                  f"{labels[0]!r}, in all {examples} example(s)")
    fix = ("add a sub-folder per class" if path.is_dir() else
           "check that the label field is the right column (label_field, --label-field) or "
           "add examples of another class")
    return f"{where}; a classifier needs at least two classes: {fix}"


def load_user_data(
    path: str | os.PathLike[str],
    *,
    valid: str | os.PathLike[str] | None = None,
    test: str | os.PathLike[str] | None = None,
    text_field: str = "text",
    label_field: str = "label",
    label_names: Sequence[str] | None = None,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    name: str | None = None,
    min_classes: int = 1,
    csv_multiline: bool = False,
) -> TextDataset:
    """A ``TextDataset`` from the user's files (see the module docstring for layouts).

    ``label_names`` fixes the classes and their order; every one of them must then have
    training examples. ``min_classes=2`` refuses training data of one class (what
    ``rnnlab train`` asks for: a classifier cannot learn from it), naming the file and the
    label field. ``csv_multiline=True`` reads CSV/TSV files whose quoted texts hold line
    breaks (refused by default: a stray quote would merge rows silently).
    """
    if not isinstance(csv_multiline, bool):
        raise DataError(f"csv_multiline must be true or false, got {csv_multiline!r}")
    check_fractions(valid_fraction=valid_fraction, test_fraction=test_fraction)
    root = Path(path)
    if root.is_dir() and (root / "train").is_dir():
        valid = valid if valid is not None or not (root / "valid").is_dir() else root / "valid"
        test = test if test is not None or not (root / "test").is_dir() else root / "test"
        root = root / "train"
    train_examples = read_examples(root, text_field, label_field, "path", csv_multiline)
    labels_seen = label_order([e[1] for e in train_examples])
    if len(labels_seen) < min_classes:
        raise DataError(_one_class_message(root, labels_seen, len(train_examples), label_field))
    if label_names is None:
        label_names = labels_seen
    else:
        label_names = tuple(label_names)
        for label in label_names:
            if label not in labels_seen:
                raise DataError(
                    f"label_names includes {label!r}, a class with no examples in "
                    f"path={str(path)!r} (classes found: {list(labels_seen)})"
                )
    train = _to_split(train_examples, label_names, f"path={str(root)!r}")
    held = {}
    for argument, given in (("test", test), ("valid", valid)):
        if given is not None:
            examples = read_examples(given, text_field, label_field, argument, csv_multiline)
            held[argument] = _to_split(examples, label_names, f"{argument}={str(given)!r}")
    if "test" not in held:
        train, held["test"] = split_off(train, test_fraction, seed)
    if "valid" not in held:
        fraction = valid_fraction / (1.0 - test_fraction) if test is None else valid_fraction
        train, held["valid"] = split_off(train, fraction, seed + 1)
    for label, count in zip(label_names, train.counts(len(label_names)), strict=True):
        if count == 0:
            raise DataError(
                f"class {label!r} has no training examples after splitting; add examples or "
                f"lower valid_fraction/test_fraction"
            )
    return TextDataset(
        name or Path(path).stem, train, held["valid"], held["test"], tuple(label_names)
    )
