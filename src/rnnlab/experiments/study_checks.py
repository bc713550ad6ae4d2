"""Checking a whole study before anything is written: types, ranges and every run's config.

A study file is read by TOML/JSON/YAML parsers that give strings, floats, huge ints and
lists wherever the user wrote them; a wrong type must be an error that names the key (say
``training.lr``), not a run that fails at training time or a traceback. The model and
training overrides are checked against the field types of
:class:`~rnnlab.models.config.ClassifierConfig` and :class:`~rnnlab.train.TrainConfig`,
then resolved for every arrangement with their own ``from_dict`` validation.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from rnnlab._config import is_int

__all__ = ["NAME_RULE", "check_conditions", "check_int", "check_name", "check_number",
           "check_overrides"]

NAME_RULE = "1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

MAX_SEED = 2**63 - 1  # the store keeps seeds in SQLite's signed 64-bit INTEGER
MAX_SIZE = 100_000  # embedding/hidden/dense widths: beyond this a run only runs out of memory
MAX_LR = 100.0  # Adam's step is about lr per parameter: far past this nothing can train

# Upper bounds of the override fields that are numbers (lower bounds: the configs' own).
_MODEL_LIMITS = {"vocab_size": 10_000_000, "num_classes": 100_000, "embedding_size": MAX_SIZE,
                 "hidden_size": MAX_SIZE, "dense_size": MAX_SIZE, "num_layers": 100}
_TRAIN_LIMITS = {"batch_size": 1_000_000, "eval_batch_size": 1_000_000, "lr": MAX_LR,
                 "patience": 10_000, "bucket_pool_batches": 10_000}


def check_name(name: Any) -> None:
    """A study name is a slug: it becomes a directory under ``studies/``, never a path."""
    if not isinstance(name, str) or not _SLUG.fullmatch(name):
        raise ValueError(f"name must be {NAME_RULE} (it names the study's directory), "
                         f"got {name!r}")


def check_int(key: str, value: Any, low: int, high: int) -> int:
    if not is_int(value) or not low <= value <= high:
        raise ValueError(f"{key} must be an int in [{low}, {high}], got {_shown(value)}")
    return value


def check_number(key: str, value: Any, *, low: float, high: float = math.inf,
                 low_open: bool = False) -> float:
    """A finite real number in [low, high] (or (low, high] with ``low_open``)."""
    bad_type = isinstance(value, bool) or not isinstance(value, int | float)
    if bad_type or not math.isfinite(value) or not (
            (value > low if low_open else value >= low) and value <= high):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{key} must be a finite number in {interval}, got {_shown(value)}")
    return float(value)


def _shown(value: Any) -> str:
    return f"{value!r} (a {type(value).__name__})" if isinstance(value, str | bool) else repr(value)


def _check_type(key: str, value: Any, annotation: Any) -> None:
    """``value`` has the type a config field is annotated with (bool is not an int)."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = typing.get_args(annotation) if union else (annotation,)
    if value is None and type(None) in options:
        return
    for option in options:
        if option is bool and isinstance(value, bool):
            return
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return
        if option is str and isinstance(value, str):
            return
        if typing.get_origin(option) is tuple and isinstance(value, list | tuple):
            items = typing.get_args(option)
            if len(value) == len(items):
                for index, (item, item_type) in enumerate(zip(value, items, strict=True)):
                    _check_type(f"{key}[{index}]", item, item_type)
                return
    wanted = " or ".join("null" if o is type(None) else _type_name(o) for o in options)
    raise ValueError(f"{key} must be {wanted}, got {_shown(value)}")


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is tuple:
        return f"a list of {len(typing.get_args(annotation))} numbers"
    return {bool: "true or false", int: "an int", float: "a number", str: "a string"}.get(
        annotation, str(annotation))


def _check_table(key: str, table: Any, config_class: type, limits: Mapping[str, float]) -> None:
    """Keys known, values of the field's type, finite and within ``limits``."""
    from rnnlab._config import check_known_keys

    if not isinstance(table, Mapping):
        raise ValueError(f"{key} must be a table of {config_class.__name__} settings, "
                         f"got {_shown(table)}")
    check_known_keys(dict(table), config_class, f"{key} key")
    hints = typing.get_type_hints(config_class)
    for name, value in table.items():
        _check_type(f"{key}.{name}", value, hints[name])
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{key}.{name} must be finite, got {value!r}")
        if name in limits and isinstance(value, int | float) and value > limits[name]:
            raise ValueError(f"{key}.{name} must be at most {limits[name]:g}, got {value!r}")


def check_overrides(study: Any) -> None:
    """The model and training overrides are well typed and give a valid config for every
    arrangement of ``study`` (sizes that depend on the data are checked with placeholders)."""
    from rnnlab.models.config import ClassifierConfig
    from rnnlab.train.config import TrainConfig

    _check_table("model", study.model, ClassifierConfig, _MODEL_LIMITS)
    _check_table("training", study.training, TrainConfig, _TRAIN_LIMITS)
    if "epochs" in study.training:
        raise ValueError("training.epochs is set by the study's own epochs; remove it from "
                         "[training]")
    training = dict(study.training)
    if "lr" in training:
        check_number("training.lr", training["lr"], low=0.0, high=MAX_LR, low_open=True)
    for name in ("eps", "clip_grad_norm"):
        if training.get(name) is not None:
            check_number(f"training.{name}", training[name], low=0.0, low_open=True)
    if "weight_decay" in training:
        check_number("training.weight_decay", training["weight_decay"], low=0.0)
    for index, beta in enumerate(training.get("betas", ())):
        check_number(f"training.betas[{index}]", beta, low=0.0, high=1.0)
    try:
        TrainConfig.from_dict(training)
    except (ValueError, TypeError) as error:
        raise ValueError(f"training: {error}") from None
    conditions = {(name, masked) for masked in study.masked for name in study.arrangements}
    conditions |= {(name, True) for name in study.masked_arrangements}
    for arrangement, masked in sorted(conditions):
        try:
            ClassifierConfig.from_arrangement(
                arrangement, vocab_size=study.vocab_size, masked=masked,
                padding=study.padding, **study.model)
        except (ValueError, TypeError) as error:
            raise ValueError(f"model (for {arrangement}): {error}") from None


def check_conditions(study: Any) -> None:
    """A study's ``conditions``: a table of tables named like studies, one arrangement for
    all of them, each table valid ClassifierConfig overrides, and every pretrained file or
    run it names present and of the right size (``conditions.<name>.<key>`` in errors)."""
    conditions = study.conditions
    if not isinstance(conditions, Mapping):
        raise ValueError(f"conditions must be a table of [conditions.<name>] tables, "
                         f"got {_shown(conditions)}")
    if not conditions:
        return
    from rnnlab.models.config import ClassifierConfig
    from rnnlab.train.transfer import check_pretrained_paths  # torch: only for conditions

    if len(study.arrangements) != 1:
        raise ValueError(f"a study with conditions trains one arrangement in every condition; "
                         f"arrangements lists {len(study.arrangements)}: set arrangements = "
                         f"[\"MS_RST_biLSTM\"] (or the one you want)")
    if study.masked_arrangements:
        raise ValueError("masked_arrangements is for arrangement studies; with conditions "
                         "set masked = [false, true] to run every condition both ways")
    forbidden = {"vocab_size", "padding", "masked", "arrangement"}
    for name, overrides in conditions.items():
        try:
            check_name(name)
        except ValueError:
            raise ValueError(f"conditions: a condition name must be {NAME_RULE} (it names "
                             f"the runs' directory), got {name!r}") from None
        key = f"conditions.{name}"
        _check_table(key, overrides, ClassifierConfig, _MODEL_LIMITS)
        if forbidden & set(overrides):
            raise ValueError(f"{key}: {sorted(forbidden & set(overrides))} are set by the "
                             "study itself (use the study's vocab_size/padding/masked fields)")
        for masked in study.masked:
            try:
                config = ClassifierConfig.from_arrangement(
                    study.arrangements[0], vocab_size=study.vocab_size, masked=masked,
                    padding=study.padding, **{**study.model, **overrides})
            except (ValueError, TypeError) as error:
                raise ValueError(f"{key}: {error}") from None
        check_pretrained_paths(config, key)
