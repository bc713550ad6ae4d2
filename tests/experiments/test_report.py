"""The report renders from the store alone: full study, partial study, a single run."""

import base64
import re

import pytest

from rnnlab.experiments.report import write_report
from rnnlab.experiments.store import ResultStore

from . import fake_study

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_figures(paths):
    html = paths.html.read_text()
    assert paths.figures, "a report always has figures"
    for figure in paths.figures:
        png = figure.read_bytes()
        assert figure.parent.name == "figures" and png.startswith(PNG_SIGNATURE)
        assert len(png) > 1000
        assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in html
        assert f"](figures/{figure.name})" in paths.markdown.read_text()
    assert 'src="figures/' not in html  # self-contained: nothing loaded from disk
    assert "<script" not in html and "http" not in html.split("<body>")[1]


@pytest.fixture(scope="module")
def full_study(tmp_path_factory):
    """12 arrangements × 3 runs × 2 epochs, masked and unmasked (so Q4 is asked)."""
    path = tmp_path_factory.mktemp("full") / "results.sqlite"
    with ResultStore(path) as store:
        study_id = store.ensure_study("seed002", fake_study.STUDY_CONFIG)
        store.add_runs(study_id, fake_study.study_specs(runs=3, masked=(False, True)))
        fake_study.work(store, study_id, epochs=2, worker="w")
    return path


def test_full_report_has_tables_answers_figures_and_the_stored_numbers(full_study, tmp_path):
    paths = write_report(full_study, "seed002", tmp_path / "report")
    assert paths.markdown == tmp_path / "report" / "report.md"
    assert {figure.name for figure in paths.figures} == {
        "accuracy_imdb_short_unmasked.png", "accuracy_imdb_short_masked.png",
        "learning_curves_imdb_short_unmasked.png", "learning_curves_imdb_short_masked.png",
        "differences.png",
    }  # fmt: skip
    _check_figures(paths)
    markdown = paths.markdown.read_text()
    with ResultStore(full_study) as store:
        runs = store.runs(store.study("seed002").id)
    for run in runs:  # every final accuracy, in percent, in the per-run table
        assert f"{100 * run.test_accuracy:.2f}" in markdown
    # SS_RSF_LSTM unmasked, fake_accuracy after 2 epochs minus 0.02 for test: 0.72, 0.723,
    # 0.726 -> mean 72.30, std 0.30, min 72.00, max 72.60, 2 epochs
    assert "| `SS_RSF_LSTM` | 3/3 | 72.30 | 0.30 | 72.00 | 72.60 | 2 |" in markdown
    for key in ("Q1.", "Q2.", "Q3.", "Q4."):
        assert f"### {key}" in markdown
    # fake_accuracy: RST arrangements sit 2 (SS) or 4 (MS) seed positions above RSF.
    assert "| `SS_RSF_LSTM` | `SS_RST_LSTM` | 3 | 72.30 | 74.30 | +2.00 |" in markdown
    assert "RST (mean of all states) is better than RSF (last state)" in markdown
    assert "Masked is better than unmasked: +0.50 points" in markdown
    assert '"vocabulary": 5000' in markdown  # the study config that produced it
    assert "| 2 | 1002 |" in markdown  # run index -> seed
    html = paths.html.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<table>" in html
    assert "Masked is better than unmasked" in html


def test_report_with_failed_and_missing_runs_says_so(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultStore(path) as store:
        study_id = store.ensure_study("partial", fake_study.STUDY_CONFIG)
        store.add_runs(study_id, fake_study.study_specs(runs=2))
        for _ in range(20):  # finish 20 of 24 runs, fail one, leave one running, two pending
            run = store.claim_next_run(study_id, "w")
            store.record_epoch(run.id, fake_study.fake_epoch(run, 1))
            store.finish_run(
                run.id, test_accuracy=fake_study.fake_accuracy(run.arrangement, run.run_index, 1)
            )
        failed = store.claim_next_run(study_id, "w")
        store.fail_run(failed.id, "Traceback (most recent call last):\nRuntimeError: diverged")
        store.claim_next_run(study_id, "w")
    paths = write_report(path, "partial", tmp_path / "out")
    _check_figures(paths)
    markdown = paths.markdown.read_text()
    assert "Runs: 24 in the store (20 done, 1 failed, 1 running, 2 pending)." in markdown
    assert f"| `{failed.arrangement}` | imdb-short, unmasked | 1 | failed | 1 | " \
           "RuntimeError: diverged |" in markdown  # fmt: skip
    assert "| — |" in markdown  # unfinished runs show as missing in the per-run table
    assert "left out of the pooled difference" in markdown  # run 1 incomplete in some pair


def test_report_of_a_single_run_renders_and_says_the_interval_needs_two_runs(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultStore(path) as store:
        study_id = store.ensure_study("tiny", {"runs": 1})
        store.add_runs(study_id, fake_study.study_specs(1, ["SS_RSF_GRU", "SS_RST_GRU"]))
        fake_study.work(store, study_id, epochs=1, worker="w")
    paths = write_report(path, "tiny", tmp_path / "out")
    _check_figures(paths)
    markdown = paths.markdown.read_text()
    assert "interval needs ≥ 2 runs" in markdown
    # fake_accuracy of SS_RSF_GRU (seed position 1) after 1 epoch, minus 0.02 for test: 0.71
    assert "| `SS_RSF_GRU` | 1/1 | 71.00 | — | 71.00 | 71.00 | 1 |" in markdown
    assert "Not asked: no arrangement in this study has both masked and unmasked runs." in markdown


def test_report_of_a_study_without_finished_runs_renders(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultStore(path) as store:
        study_id = store.ensure_study("fresh", {})
        store.add_runs(study_id, fake_study.study_specs(1, ["MS_RST_LSTM"]))
    paths = write_report(path, "fresh", tmp_path / "out")
    _check_figures(paths)
    assert "Q1–Q3 cannot be asked" in paths.markdown.read_text()


def test_report_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="store_path"):
        write_report(tmp_path / "none.sqlite", "seed002", tmp_path / "out")
    ResultStore(tmp_path / "empty.sqlite").close()
    with pytest.raises(LookupError, match=re.escape("no study 'seed002'")):
        write_report(tmp_path / "empty.sqlite", "seed002", tmp_path / "out")
