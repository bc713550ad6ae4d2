"""The study runner: seeding and pairing, resume without loss or duplication, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rnnlab.cli import main
from rnnlab.experiments.runner import run_study
from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.study import QUICK, StudyConfig, expand_runs, load_study_file
from rnnlab.models import SequenceClassifier
from rnnlab.models.config import ClassifierConfig

WORDS_GOOD = ["great", "fine", "superb", "lovely", "fun"]
WORDS_BAD = ["awful", "dull", "boring", "bad", "poor"]
TINY_MODEL = {"embedding_size": 6, "hidden_size": 5, "dense_size": 4}


def _write_reviews(path: Path, count: int = 48) -> Path:
    generator = torch.Generator().manual_seed(0)
    lines = ["text,label"]
    for index in range(count):
        words = WORDS_GOOD if index % 2 else WORDS_BAD
        length = 3 + index % 6
        picks = torch.randint(0, len(words), (length,), generator=generator).tolist()
        lines.append(f"{' '.join(words[p] for p in picks)} film,{'pos' if index % 2 else 'neg'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def tiny_study(tmp_path) -> StudyConfig:
    data = _write_reviews(tmp_path / "reviews.csv")
    return StudyConfig(name="tiny", dataset=str(data), arrangements=("SS_RSF_LSTM", "MS_RST_biGRU"),
                       runs=2, epochs=2, vocab_size=20, maxlen=10,
                       masked_arrangements=("SS_RSF_LSTM",), model=TINY_MODEL)


def _final_rows(store_path: Path) -> list[tuple]:
    with ResultStore(store_path) as store:
        study = store.studies()[0]
        runs, epochs = store.snapshot(study.id)
    by_run = {}
    for row in epochs:
        by_run.setdefault(row.run_id, []).append(
            (row.epoch, row.train_loss, row.valid_accuracy, row.test_loss, row.test_accuracy))
    return sorted((run.arrangement, run.masked, run.run_index, run.status, run.test_accuracy,
                   tuple(sorted(by_run.get(run.id, [])))) for run in runs)


def test_runs_pair_by_index_with_shared_seeds_and_q4_twins():
    specs = expand_runs(QUICK, vocab_size=5000, num_classes=2)
    assert len(specs) == QUICK.runs * (12 + 2)
    for run_index in range(QUICK.runs):
        seeds = {spec.seed for spec in specs if spec.run_index == run_index}
        assert seeds == {QUICK.base_seed + run_index}
    masked = {(s.arrangement, s.run_index) for s in specs if s.masked}
    assert masked == {(name, r) for name in ("SS_RST_LSTM", "MS_RSF_biLSTM") for r in range(3)}


def test_arrangements_of_one_run_start_their_shared_parts_identical():
    specs = [s for s in expand_runs(QUICK, vocab_size=50, num_classes=2) if not s.masked]
    by_run = {}
    for spec in specs:
        model = SequenceClassifier(ClassifierConfig.from_dict(spec.config["model"]),
                                   seed=spec.seed)
        by_run.setdefault(spec.run_index, []).append(model)
    first, second = by_run[0], by_run[1]
    embeddings = [model.embedding.weight for model in first]
    assert all(torch.equal(embeddings[0], weight) for weight in embeddings[1:])
    assert not torch.equal(first[0].embedding.weight, second[0].embedding.weight)


def test_study_runs_once_and_a_rerun_trains_nothing(tiny_study, tmp_path):
    outcome = run_study(tiny_study, tmp_path / "study", progress=False)
    assert outcome.status_counts["done"] == 6
    assert outcome.report_html.is_file() and outcome.report_markdown.is_file()
    before = _final_rows(outcome.store_path)
    assert all(len(row[-1]) == 2 for row in before)  # every epoch of every run recorded
    checkpoint = tmp_path / "study" / "runs" / "SS_RSF_LSTM" / "run0" / "checkpoint.pt"
    stamp = checkpoint.stat().st_mtime_ns
    again = run_study(tiny_study, tmp_path / "study", progress=False, report=False)
    assert _final_rows(again.store_path) == before
    assert checkpoint.stat().st_mtime_ns == stamp


def test_changing_a_study_under_the_same_name_is_refused(tiny_study, tmp_path):
    run_study(tiny_study.replace(runs=1, epochs=1), tmp_path / "study", progress=False,
              report=False)
    with pytest.raises(ValueError, match="different config") as refused:
        run_study(tiny_study.replace(runs=1, epochs=2), tmp_path / "study", progress=False,
                  report=False)
    # the message names what changed (only that) and the fixes a CLI user can apply
    message = str(refused.value)
    assert "epochs: stored 1, given 2" in message and "runs:" not in message
    assert "--epochs" in message and "--out" in message


def _write_study_file(study: StudyConfig, path: Path) -> Path:
    path.write_text(json.dumps(study.to_dict()), encoding="utf-8")
    return path


@pytest.mark.slow
def test_sigkill_then_resume_ends_with_the_rows_of_an_uninterrupted_study(tiny_study, tmp_path):
    study = tiny_study.replace(epochs=3)
    study_file = _write_study_file(study, tmp_path / "study.json")
    reference = run_study(load_study_file(study_file), tmp_path / "reference", progress=False,
                          report=False)
    killed_dir = tmp_path / "killed"
    command = [sys.executable, "-m", "rnnlab", "compare", "--study", str(study_file),
               "--out", str(killed_dir), "--no-progress"]
    # The CLI's default runs one worker process per core: killing the parent must take the
    # workers down too (else they would train on and hold their runs).
    for wait_for_epochs in (2, 7):  # kill twice, at different points
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            store_path = killed_dir / "results.sqlite"
            if store_path.exists():
                with ResultStore(store_path) as store:
                    studies = store.studies()
                    recorded = len(store.study_epochs(studies[0].id)) if studies else 0
                if recorded >= wait_for_epochs:
                    break
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert _final_rows(killed_dir / "results.sqlite") == _final_rows(reference.store_path)


@pytest.mark.slow
def test_parallel_workers_train_every_run_exactly_once(tiny_study, tmp_path):
    outcome = run_study(tiny_study, tmp_path / "study", jobs=2, progress=False, report=False)
    rows = _final_rows(outcome.store_path)
    assert outcome.status_counts["done"] == 6 and len(rows) == 6
    assert all(len(row[-1]) == 2 for row in rows)


def test_cli_compare_then_report(tiny_study, tmp_path, capsys):
    study_file = _write_study_file(tiny_study.replace(runs=1, epochs=1), tmp_path / "s.json")
    assert main(["compare", "--study", str(study_file), "--out", str(tmp_path / "o"),
                 "--no-progress", "--jobs", "1"]) == 0
    assert "report:" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "o"), "--out", str(tmp_path / "r")]) == 0
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "SS_RSF_LSTM" in html and "data:image/png;base64," in html


def test_cli_reports_bad_study_keys_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nepocs = 3\n', encoding="utf-8")
    assert main(["compare", "--study", str(bad)]) == 2
    error = capsys.readouterr().err
    assert "unknown study key(s) ['epocs']" in error and "Traceback" not in error


def test_an_error_inside_the_interrupt_guard_propagates_where_sigint_is_ignored():
    """A background job (CI, nohup) ignores SIGINT; a ValueError of the block (a damaged
    store) once made the guard yield twice ("generator didn't stop after throw()")."""
    import signal

    from rnnlab.experiments.interrupts import interrupt_once

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with pytest.raises(ValueError, match="damaged"), interrupt_once():
            raise ValueError("damaged store")
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_claimed_run_waits_for_a_lock_its_dying_predecessor_still_holds(tmp_path, monkeypatch):
    """A worker SIGKILLed with its parent may hold the run's lock a moment after the store
    released its claim: the next worker waits for it instead of failing the run."""
    import threading

    from rnnlab.experiments import run_training
    from rnnlab.train.run_lock import RunLockedError, run_lock

    run_dir = tmp_path / "run0"
    held, release = threading.Event(), threading.Event()

    def predecessor():
        with run_lock(run_dir):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=predecessor)
    thread.start()
    held.wait(5)
    attempts = []

    def train(on_epoch):
        attempts.append(on_epoch)
        if len(attempts) == 3:
            release.set()  # the predecessor finally exits
            thread.join()
        with run_lock(run_dir):
            return "trained"

    assert run_training.when_unlocked(train, "callback") == "trained"
    assert len(attempts) == 3 and set(attempts) == {"callback"}  # two refused, then trained
    monkeypatch.setattr(run_training, "LOCK_WAIT_SECONDS", 0.3)
    with run_lock(run_dir), pytest.raises(RunLockedError, match="is being written by pid"):
        run_training.when_unlocked(lambda on_epoch: run_lock(run_dir).__enter__(), None)


def test_a_study_grows_to_the_rows_of_the_same_study_run_at_once(tiny_study, tmp_path, capsys):
    whole = tiny_study.replace(masked_arrangements=())
    reference = run_study(whole, tmp_path / "reference", progress=False, report=False)
    grown_dir = tmp_path / "grown"
    run_study(whole.replace(arrangements=("MS_RST_biGRU",), runs=1), grown_dir, progress=False,
              report=False)
    run_study(whole.replace(arrangements=("MS_RST_biGRU",)), grown_dir, progress=False,
              report=False)
    assert "grows: runs 1 → 2" in capsys.readouterr().out
    outcome = run_study(whole, grown_dir, progress=False, report=False)
    assert "grows: arrangements + SS_RSF_LSTM" in capsys.readouterr().out
    assert _final_rows(outcome.store_path) == _final_rows(reference.store_path)
    with ResultStore(outcome.store_path) as store:  # the declared order, not the order added
        assert store.study("tiny").config["arrangements"] == ["SS_RSF_LSTM", "MS_RST_biGRU"]


@pytest.mark.parametrize("jobs", [1, 2])  # this process, or spawned workers given the run ids
def test_a_selection_of_a_stored_study_trains_only_what_it_names(tiny_study, tmp_path, jobs):
    whole = tiny_study.replace(masked_arrangements=(), runs=1, epochs=1)
    study_dir = tmp_path / "study"
    # the whole study is stored first (its runs pending), then one arrangement is asked for
    with ResultStore(study_dir / "results.sqlite") as store:
        from rnnlab.experiments.study_growth import grow_study_config

        store.ensure_study(whole.name, whole.to_dict(), grow=grow_study_config)
    outcome = run_study(whole.replace(arrangements=("MS_RST_biGRU",)), study_dir, jobs=jobs,
                        threads=1, progress=False, report=False)
    assert outcome.status_counts == {"pending": 0, "running": 0, "done": 1, "failed": 0}
    outcome = run_study(whole, study_dir, progress=False, report=False)
    assert outcome.status_counts["done"] == 2


def test_a_growth_refused_for_changed_data_leaves_the_stored_study_as_it_was(tiny_study,
                                                                            tmp_path):
    from rnnlab.experiments.store import DataChangedError

    small = tiny_study.replace(runs=1, epochs=1, masked_arrangements=())
    outcome = run_study(small, tmp_path / "study", progress=False, report=False)
    with Path(small.dataset).open("a", encoding="utf-8") as file:
        file.write("good film,pos\n")
    with pytest.raises(DataChangedError, match="changed"):
        run_study(small.replace(runs=2), tmp_path / "study", progress=False, report=False)
    with ResultStore(outcome.store_path) as store:
        study = store.study("tiny")
        assert study.config["runs"] == 1 and len(store.runs(study.id)) == 2


@pytest.mark.slow
def test_two_processes_grow_and_train_different_selections_of_one_study(tiny_study, tmp_path):
    study = tiny_study.replace(masked_arrangements=(), epochs=1)
    reference = run_study(study, tmp_path / "reference", progress=False, report=False)
    study_file = _write_study_file(study, tmp_path / "study.json")
    shared = tmp_path / "shared"
    commands = [[sys.executable, "-m", "rnnlab", "compare", "--study", str(study_file),
                 "--arrangements", name, "--out", str(shared), "--jobs", "1", "--threads", "1",
                 "--no-progress"] for name in study.arrangements]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for command in commands]
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    rows = _final_rows(shared / "results.sqlite")
    assert rows == _final_rows(reference.store_path)  # each run once, as if trained at once
    with ResultStore(shared / "results.sqlite") as store:  # in the order the two landed
        assert sorted(store.study("tiny").config["arrangements"]) == sorted(study.arrangements)
