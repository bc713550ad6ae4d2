"""Experiments: studies of arrangements × runs × epochs, their SQLite store and reports.

    >>> from rnnlab.experiments import PROFILES, run_study
    >>> outcome = run_study(PROFILES["quick"], "studies/quick")   # resumable; then the report

Names load on first use: the store and the report work without importing torch.
"""

from rnnlab._lazy import attach

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

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
