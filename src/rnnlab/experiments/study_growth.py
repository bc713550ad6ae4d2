"""Growing a stored study: more runs, more arrangements or conditions, never other settings.

A study directory holds one study config; re-running it with ``--runs 5`` after ``--runs 3``,
or with a condition it has not trained yet, should add those runs and keep the ones already
trained — they stay comparable because every run is keyed by (arrangement, run index,
masked) and ``ResultStore.add_runs`` refuses a run whose seed or config changed. What may
grow, and how the stored and the given config merge:

    runs                    the larger of the two
    seeds                   the longer list, if the shorter is its beginning
    arrangements, masked,   the union, in the declared order (below)
    masked_arrangements,
    cells, lengths (toy),
    condition_order
    conditions              the union; a condition in both must have the same overrides

Any other difference (epochs, model, training, data, vocabulary, ...) changes what every
run measures, so it is refused with the keys that changed.

The order of the union matters: a transfer study's report compares every condition with the
*first* of ``condition_order`` (``baseline``; the store sorts a table's keys, so the order is
kept beside it). A name the stored config lacks goes right before the next name that
follows it in the given config and is already stored, so a study started with ``elmo`` alone
and grown with the bundled table ``baseline, word2vec, elmo, finetune`` is stored in that
table's order, its reference ``baseline``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["StudyGrowthError", "changed_keys", "describe_growth", "grow_study_config"]

# A toy study's lengths grow too: the store records each T's data fingerprint on its own.
LIST_KEYS = ("arrangements", "masked", "masked_arrangements", "cells", "lengths",
             "condition_order")
TABLE_KEYS = ("conditions",)
GROWABLE = {"runs", "seeds", *LIST_KEYS, *TABLE_KEYS}


class StudyGrowthError(ValueError):
    """The given study differs from the stored one in a setting that cannot grow."""


def grow_study_config(stored: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The stored study config grown by what ``given`` adds (see the module docstring).

    Both are study configs as stored (``StudyConfig.to_dict()``). Returns ``stored``'s
    content unchanged when ``given`` adds nothing (e.g. it selects fewer conditions).

    Raises:
        StudyGrowthError: naming every key that differs and cannot grow, with both values.
    """
    fixed = changed_keys(stored, given, skip=GROWABLE)
    problems = [fixed] if fixed else []
    grown = dict(stored)
    seeds = _grown_seeds(stored.get("seeds") or [], given.get("seeds") or [], problems)
    if seeds is not None and ("seeds" in stored or "seeds" in given):
        grown["seeds"] = seeds
    if "runs" in stored or "runs" in given:
        grown["runs"] = max(int(stored.get("runs", 0)), int(given.get("runs", 0)))
    for key in LIST_KEYS:
        if key in stored or key in given:
            grown[key] = ordered_union(stored.get(key) or [], given.get(key) or [])
    for key in TABLE_KEYS:
        if key in stored or key in given:
            grown[key] = _grown_table(key, stored.get(key) or {}, given.get(key) or {},
                                      problems)
    if problems:
        raise StudyGrowthError("; ".join(problems))
    return grown


def ordered_union(stored: Sequence[Any], given: Sequence[Any]) -> list[Any]:
    """``stored`` with the items only ``given`` has, each placed right before the next item
    after it in ``given`` that is already placed (at the end when there is none)."""
    merged = list(stored)
    for position, item in enumerate(given):
        if item in merged:
            continue
        following = [later for later in given[position + 1:] if later in merged]
        merged.insert(merged.index(following[0]) if following else len(merged), item)
    return merged


def changed_keys(stored: Mapping[str, Any], given: Mapping[str, Any],
                 skip: frozenset[str] | set[str] = frozenset()) -> str:
    """``"epochs: stored 1, given 2; model: ..."`` for the top-level keys that differ (those
    in ``skip`` left out); empty when none does."""
    return "; ".join(f"{key}: stored {_json(stored.get(key))}, given {_json(given.get(key))}"
                     for key in sorted((set(stored) | set(given)) - set(skip))
                     if stored.get(key) != given.get(key))


def describe_growth(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """``"runs 1 → 3; conditions + baseline, word2vec"`` (empty when nothing grew)."""
    parts = []
    if before.get("runs") != after.get("runs"):
        parts.append(f"runs {before.get('runs')} → {after.get('runs')}")
    for key in (*LIST_KEYS, *TABLE_KEYS):
        if key == "condition_order":  # the conditions' own line says it
            continue
        added = [item for item in after.get(key) or [] if item not in (before.get(key) or [])]
        if added:
            parts.append(f"{key} + {', '.join(str(item) for item in added)}")
    return "; ".join(parts)


def _grown_seeds(stored: list[int], given: list[int], problems: list[str]) -> list[int] | None:
    shorter, longer = sorted((stored, given), key=len)
    if longer[:len(shorter)] == shorter and (bool(stored) == bool(given)):
        return list(longer)
    problems.append(f"seeds: stored {_json(stored)}, given {_json(given)} (runs already "
                    "trained keep their seeds: a longer list may only extend the stored one)")
    return None


def _grown_table(key: str, stored: Mapping[str, Any], given: Mapping[str, Any],
                 problems: list[str]) -> dict[str, Any]:
    for name in stored.keys() & given.keys():
        if stored[name] != given[name]:
            problems.append(f"{key}.{name}: stored {_json(stored[name])}, given "
                            f"{_json(given[name])}")
    names = ordered_union(list(stored), list(given))
    return {name: stored[name] if name in stored else given[name] for name in names}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
