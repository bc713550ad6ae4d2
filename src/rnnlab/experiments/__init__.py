"""Experiments: studies of arrangements × runs × epochs, their SQLite store and reports.

    >>> from rnnlab.experiments import PROFILES, run_study
    >>> outcome = run_study(PROFILES["quick"], "studies/quick")   # resumable; then the report

Names load on first use: the store and the report work without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ResultStore": "rnnlab.experiments.store",
    "RunSpec": "rnnlab.experiments.store_records",
    "write_report": "rnnlab.experiments.report",
    "StudyConfig": "rnnlab.experiments.study",
    "PROFILES": "rnnlab.experiments.study",
    "load_study_file": "rnnlab.experiments.study",
    "run_study": "rnnlab.experiments.runner",
    "StudyOutcome": "rnnlab.experiments.runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rnnlab.experiments' has no attribute {name!r}")
