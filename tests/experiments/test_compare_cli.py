"""`rnnlab compare` as a user runs it: failed runs retried, Ctrl-C, a damaged store, changed data.

Every test here reproduces a defect of issue 14 by invoking the CLI (in process through
``rnnlab.cli.main``, or as a subprocess where a signal is involved).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnlab.cli import main
from rnnlab.experiments.runner import run_study
from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.study import StudyConfig

from .test_runner import TINY_MODEL, _final_rows, _write_reviews


def _study(tmp_path: Path, **changes) -> StudyConfig:
    data = tmp_path / "reviews.csv"
    if not data.exists():
        _write_reviews(data)
    values = dict(name="tiny", dataset=str(data), arrangements=("SS_RSF_LSTM",), runs=2,
                  epochs=1, vocab_size=20, maxlen=10, model=TINY_MODEL)
    return StudyConfig(**{**values, **changes})


def _study_file(tmp_path: Path, study: StudyConfig) -> Path:
    path = tmp_path / "study.json"
    path.write_text(json.dumps(study.to_dict()), encoding="utf-8")
    return path


def _compare(study_file: Path, out: Path, *extra: str) -> int:
    return main(["compare", "--study", str(study_file), "--out", str(out), "--no-progress",
                 "--jobs", "1", *extra])


def _statuses(store_path: Path) -> list[str]:
    with ResultStore(store_path) as store:
        return [run.status for run in store.runs(store.studies()[0].id)]


def _plant_broken_checkpoint(study_dir: Path, run_index: int) -> Path:
    """A checkpoint the run cannot load: its training raises, so the run is 'failed'."""
    path = study_dir / "runs" / "SS_RSF_LSTM" / f"run{run_index}" / "checkpoint.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a checkpoint")
    return path


# -- 1. --retry-failed ----------------------------------------------------------------------
def test_retry_failed_flag_trains_a_failed_run_again(tmp_path, capsys):
    study_file, out = _study_file(tmp_path, _study(tmp_path)), tmp_path / "out"
    broken = _plant_broken_checkpoint(out, run_index=0)
    assert _compare(study_file, out) == 1
    assert sorted(_statuses(out / "results.sqlite")) == ["done", "failed"]
    broken.unlink()  # the cause is fixed; without the flag the run stays failed
    assert _compare(study_file, out) == 1
    assert _compare(study_file, out, "--retry-failed") == 0
    assert _statuses(out / "results.sqlite") == ["done", "done"]
    assert "2 done" in capsys.readouterr().out


# -- 2. Ctrl-C ------------------------------------------------------------------------------
def _recorded_epochs(store_path: Path) -> int:
    if not store_path.exists():
        return 0
    try:
        with ResultStore(store_path) as store:
            studies = store.studies()
            return len(store.study_epochs(studies[0].id)) if studies else 0
    except sqlite3.OperationalError:  # being created this instant
        return 0


def _interrupt_after(command: list[str], store_path: Path, epochs: int, *,
                     group: bool = False) -> subprocess.CompletedProcess:
    """Run ``command``, press Ctrl-C once ``epochs`` epochs are recorded (``group``: the
    whole process group gets SIGINT, as a terminal does)."""
    # SIGINT restored to its default: a job started in the background inherits it ignored.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=group,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while _recorded_epochs(store_path) < epochs:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the study made no progress"
        time.sleep(0.02)
    if group:
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _ctrl_c_then_resume(tmp_path: Path, jobs: int, group: bool) -> None:
    study = _study(tmp_path, runs=1, epochs=40)
    study_file, out = _study_file(tmp_path, study), tmp_path / "out"
    command = [sys.executable, "-m", "rnnlab", "compare", "--study", str(study_file),
               "--out", str(out), "--no-progress", "--jobs", str(jobs), "--threads", "1"]
    for _ in range(4):  # more interruptions than the old limit of three attempts
        interrupted = _interrupt_after(command, out / "results.sqlite",
                                       _recorded_epochs(out / "results.sqlite") + 2,
                                       group=group)
        assert interrupted.returncode == 130, (interrupted.stdout, interrupted.stderr)
        assert "Traceback" not in interrupted.stderr, interrupted.stderr
        assert "KeyboardInterrupt" not in interrupted.stderr
        assert "interrupted" in interrupted.stderr and "to resume" in interrupted.stderr
        assert _statuses(out / "results.sqlite") == ["pending"]  # the claim is released
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    reference = run_study(study, tmp_path / "reference", progress=False, report=False)
    assert _final_rows(out / "results.sqlite") == _final_rows(reference.store_path)


# Once flaky on a loaded 2-core machine (the Ctrl-C landing inside torch.save, or in a
# finished worker's atexit finalizers); tests/experiments/test_interrupts.py pins each case.
def test_ctrl_c_stops_cleanly_releases_the_run_and_resumes_to_identical_rows(tmp_path):
    _ctrl_c_then_resume(tmp_path, jobs=1, group=False)


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_stops_parallel_workers_cleanly(tmp_path):
    _ctrl_c_then_resume(tmp_path, jobs=2, group=True)


# -- 4. a damaged store ---------------------------------------------------------------------
def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _bad_header(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(b"\x00" * 16 + data[16:])


def _bad_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[page_size + 8: 2 * page_size] = b"\xff" * (page_size - 8)  # page 2, past its header
    path.write_bytes(bytes(data))


def _not_a_database(path: Path) -> None:
    path.write_text("text,label\nhello,pos\n" * 100, encoding="utf-8")


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "something").write_text("x", encoding="utf-8")


DAMAGES = {"truncated": _truncate, "bad_header": _bad_header, "bad_page": _bad_page,
           "not_a_database": _not_a_database, "directory": _directory}


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    """A finished 2-run study, its rows, and its study file (copied for each test)."""
    root = tmp_path_factory.mktemp("finished")
    study = _study(root, epochs=2)
    study_file = _study_file(root, study)
    assert _compare(study_file, root / "out") == 0
    return root, study_file, _final_rows(root / "out" / "results.sqlite")


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_store_is_a_clear_error_and_rebuild_store_recovers_identical_rows(
        finished_study, damage, tmp_path, capsys):
    root, study_file, original_rows = finished_study
    out = tmp_path / "out"
    shutil.copytree(root / "out", out)
    store_path = out / "results.sqlite"
    DAMAGES[damage](store_path)
    capsys.readouterr()
    for command in (["compare", "--study", str(study_file), "--out", str(out), "--no-progress",
                     "--jobs", "1"], ["report", str(out)], ["report", str(store_path)]):
        assert main(command) == 2, command
        error = capsys.readouterr().err
        assert str(store_path) in error and "damaged" in error, error
        assert "--rebuild-store" in error and "Traceback" not in error
    assert _compare(study_file, out, "--rebuild-store") == 0
    assert _final_rows(store_path) == original_rows
    moved = list(out.glob("results.sqlite.damaged-*"))
    assert len(moved) == 1 and "damaged" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0


def test_rebuild_store_without_a_store_is_a_clear_error(tmp_path, capsys):
    study_file = _study_file(tmp_path, _study(tmp_path))
    assert _compare(study_file, tmp_path / "nothing", "--rebuild-store") == 2
    assert "no result store" in capsys.readouterr().err


# -- 8. the data file changed between runs of a study -----------------------------------------
def test_changed_data_file_is_refused_before_any_run_trains_on_it(tmp_path, capsys):
    study = _study(tmp_path)
    study_file, out = _study_file(tmp_path, study), tmp_path / "out"
    _plant_broken_checkpoint(out, run_index=1)  # run 1 fails on its first try...
    assert _compare(study_file, out) == 1
    (out / "runs" / "SS_RSF_LSTM" / "run1" / "checkpoint.pt").unlink()
    data = Path(study.dataset)  # ...then the labels are flipped in place, same path
    text = data.read_text(encoding="utf-8")
    data.write_text(text.replace(",pos", ",tmp").replace(",neg", ",pos").replace(",tmp", ",neg"),
                    encoding="utf-8")
    capsys.readouterr()
    assert _compare(study_file, out, "--retry-failed") == 2
    error = capsys.readouterr().err
    assert str(data) in error and "changed" in error and "new study name" in error, error
    assert sorted(_statuses(out / "results.sqlite")) == ["done", "failed"]  # nothing mixed in
    data.write_text(text, encoding="utf-8")  # the original data: the study goes on
    assert _compare(study_file, out, "--retry-failed") == 0
