"""Experiments: studies of arrangements × runs × epochs, their SQLite store and reports.

    >>> from rnnlab.experiments import PROFILES, run_study
    >>> outcome = run_study(PROFILES["quick"], "studies/quick")   # resumable; then the report

Names load on first use: the store and the report work without importing torch. Type
checkers and IDEs read the same names from the ``TYPE_CHECKING`` block below;
tests/test_public_api.py keeps it equal to ``_EXPORTS``.
"""

from typing import TYPE_CHECKING

from rnnlab._lazy import attach

# Each lazily exported name and the module that defines it.
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

if TYPE_CHECKING:
    from rnnlab.experiments.report import write_report as write_report
    from rnnlab.experiments.runner import StudyOutcome as StudyOutcome
    from rnnlab.experiments.runner import run_study as run_study
    from rnnlab.experiments.store import ResultStore as ResultStore
    from rnnlab.experiments.store_records import RunSpec as RunSpec
    from rnnlab.experiments.study import PROFILES as PROFILES
    from rnnlab.experiments.study import StudyConfig as StudyConfig
    from rnnlab.experiments.study import load_study_file as load_study_file
