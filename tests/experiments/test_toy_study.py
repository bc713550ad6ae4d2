"""Toy studies: checked whole, expanded into paired runs, run end to end by the runner."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rnnlab.experiments.study import load_study_file, study_from_dict
from rnnlab.experiments.toy_profiles import TOY_PROFILES, toy_profile
from rnnlab.experiments.toy_report import crossing_step
from rnnlab.experiments.toy_study import ToyStudyConfig, prepare_toy_data

SMALL = {"name": "t", "task": "adding", "lengths": (5, 7), "runs": 2,
         "model": {"hidden_size": 4}, "training": {"steps": 4, "eval_every": 2},
         "task_options": {"eval_examples": 8}}


def test_a_toy_study_expands_to_cells_by_lengths_by_runs_paired_by_seed():
    study = ToyStudyConfig(**SMALL)
    specs = study.expand_runs(prepare_toy_data(study))
    assert len(specs) == 2 * 2 * 3
    assert {(s.arrangement, s.dataset) for s in specs} == {
        (cell, f"adding-T{T}") for cell in ("rnn_tanh", "gru", "lstm") for T in (5, 7)}
    for spec in specs:
        assert spec.seed == spec.run_index  # run r of every cell: seed base_seed + r
        assert spec.config["baseline"] == pytest.approx(1 / 6)
    assert [s.run_index for s in specs] == sorted(s.run_index for s in specs)  # pairs first


def test_a_dict_or_file_of_kind_toy_is_a_toy_study_and_bundled_names_load(tmp_path):
    assert isinstance(study_from_dict({**SMALL, "kind": "toy"}), ToyStudyConfig)
    path = tmp_path / "toy.toml"
    path.write_text('name = "mine"\nkind = "toy"\ntask = "copy"\ncells = ["rnn", "lstm"]\n'
                    "lengths = [100]\n", encoding="utf-8")
    study = load_study_file(path)
    assert isinstance(study, ToyStudyConfig) and study.cells == ("rnn_tanh", "lstm")
    assert load_study_file("toys-adding") is TOY_PROFILES["toys-adding"]
    assert toy_profile("copy", "quick").name == "toys-copy-quick"


@pytest.mark.parametrize(("change", "message"), [
    ({"lengths": (1,)}, r"T must be an int in \[2, .*got 1; the adding problem"),
    ({"lengths": ()}, "lengths must give at least one T"),
    ({"task": "parity"}, r"task must be one of \['adding', 'copy', 'quotes'\]"),
    ({"task": "quotes"}, "lengths must be empty for quotes"),
    ({"cells": ("lstm", "transformer")}, "cell must be one of"),
    ({"cells": ("rnn", "rnn_tanh")}, "must not repeat a cell"),
    ({"dataset": "imdb"}, "dataset must be 'generated' for task 'adding'"),
    ({"training": {"steps": 5, "eval_every": 2}}, "training: steps .* multiple of eval_every"),
    ({"model": {"cell": "gru"}}, r"model overrides \['cell'\] are set by the study"),
    ({"runs": 0}, r"runs must be an int in \[1, 1000\]"),
])
def test_a_bad_toy_study_is_refused_naming_the_key(change, message):
    with pytest.raises(ValueError, match=message):
        ToyStudyConfig(**{**SMALL, **change})


def test_compare_overrides_map_onto_a_toy_study():
    study = ToyStudyConfig(**SMALL).replace(arrangements=("lstm",), epochs=3, runs=1)
    assert study.cells == ("lstm",) and study.train_config().steps == 6 and study.epochs == 3


def test_crossing_step_is_the_first_record_below_the_baseline():
    curve = [(0, 2.0), (100, 0.2), (200, 0.17), (300, 0.1)]
    assert crossing_step(curve, 0.17) == 300  # equal is not below
    assert crossing_step(curve, 0.05) is None


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnlab", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_the_quick_adding_profile_runs_end_to_end_and_reports_curves_and_baselines(tmp_path):
    result = _cli("toys", "adding", "--profile", "quick", "--out", str(tmp_path / "a"),
                  "--threads", "1", "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "runs: 9 done" in result.stdout
    report = (tmp_path / "a" / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Adding problem (MSE): adding-T50" in report
    assert "Baseline (the best model that remembers nothing): 0.1667." in report
    for cell in ("rnn_tanh", "gru", "lstm"):
        assert f"| `{cell}` | 3/3 |" in report
    assert "`lstm` vs `gru` | 3 |" in report  # paired differences over 3 runs
    assert (tmp_path / "a" / "report" / "figures" / "toy_loss_adding_t50.png").stat().st_size
    again = _cli("toys", "adding", "--profile", "quick", "--out", str(tmp_path / "a"),
                 "--threads", "1", "--no-progress")  # resumes: nothing left to train
    assert again.returncode == 0 and "runs: 9 done" in again.stdout


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("RNNLAB_DATA_DIR"), reason="needs the Brown corpus")
def test_the_quick_quotes_profile_finds_units_and_writes_the_explorer(tmp_path):
    import json

    result = _cli("compare", "--study", "toys-quotes-quick", "--out", str(tmp_path / "q"),
                  "--jobs", "1", "--threads", "1", "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = tmp_path / "q" / "runs" / "quotes" / "lstm" / "run0"
    units = json.loads((run_dir / "units.json").read_text(encoding="utf-8"))
    assert len(units["units"]) == 10 and 0 <= units["units"][0]["auroc"] <= 1
    assert (run_dir / "states.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    report = (tmp_path / "q" / "report" / "report.md").read_text(encoding="utf-8")
    assert 'Units that track "inside a quotation"' in report
    assert units["probe"]["fit_chars"] > 0 and 0 <= units["probe"]["auroc"] <= 1
    assert f"linear probe of all {units['probe']['features']} units" in report
    selected = units["selected_on_valid"]
    assert (f"{selected['name']}, selected on the valid text | "
            f"{selected['test_auroc']:.4f}") in report


def test_a_toy_study_grows_by_cells_runs_and_lengths_keeping_the_runs_it_has(tmp_path):
    from rnnlab.experiments.runner import run_study
    from rnnlab.experiments.store import ResultStore

    small = ToyStudyConfig(**{**SMALL, "cells": ("lstm",), "runs": 1})
    run_study(small, tmp_path / "toy", progress=False, report=False)
    grown = ToyStudyConfig(**{**SMALL, "cells": ("gru", "lstm")})
    outcome = run_study(grown, tmp_path / "toy", progress=False, report=False)
    assert outcome.status_counts["done"] == 2 * 2 * 2  # cells × lengths × runs
    with ResultStore(outcome.store_path) as store:
        assert store.study("t").config["cells"] == ["gru", "lstm"]
        finished = {(r.arrangement, r.dataset, r.run_index): r.finished_at
                    for r in store.runs(store.study("t").id)}
    # another T: only its runs train, the stored ones are kept as they were
    outcome = run_study(grown.replace(lengths=(9,)), tmp_path / "toy", progress=False)
    assert outcome.status_counts["done"] == 2 * 3 * 2
    with ResultStore(outcome.store_path) as store:
        study = store.study("t")
        assert study.config["lengths"] == [5, 7, 9]
        runs = store.runs(study.id)
        assert {r.dataset for r in runs} == {"adding-T5", "adding-T7", "adding-T9"}
        for run in runs:
            if run.dataset != "adding-T9":
                assert run.finished_at == finished[(run.arrangement, run.dataset, run.run_index)]
    report = (tmp_path / "toy" / "report" / "report.md").read_text(encoding="utf-8")
    assert ": adding-T9" in report and ": adding-T5" in report


def test_the_store_records_each_length_s_data_and_refuses_a_changed_one(tmp_path):
    from rnnlab.experiments.store import DataChangedError, ResultStore

    with ResultStore(tmp_path / "results.sqlite") as store:
        study_id = store.ensure_study("t", {"name": "t"})
        store.check_data(study_id, "generated", parts={"adding-T5": "aa", "adding-T7": "bb"})
        store.check_data(study_id, "generated", parts={"adding-T9": "cc"})  # grows
        store.check_data(study_id, "generated", parts={"adding-T7": "bb", "adding-T9": "cc"})
        with pytest.raises(DataChangedError, match=r"adding-T7 \(generated\) now has "
                                                   r"fingerprint zz.*trained on fingerprint bb"):
            store.check_data(study_id, "generated", parts={"adding-T5": "aa",
                                                                "adding-T7": "zz"})
        for both_or_neither in ({"fingerprint": "aa", "parts": {"adding-T5": "aa"}}, {}):
            with pytest.raises(TypeError, match="exactly one"):
                store.check_data(study_id, "generated", **both_or_neither)
        stored = store._connection().execute(  # what the store holds, not what it says
            "SELECT fingerprint FROM study_data").fetchone()[0]
    assert stored == "adding-T5:aa,adding-T7:bb,adding-T9:cc"  # the refusal wrote nothing


def test_a_toy_run_s_result_line_names_its_T_and_says_its_loss_beside_the_baseline(tmp_path,
                                                                                    capsys):
    import re

    from rnnlab.experiments.runner import run_study

    study = ToyStudyConfig(**{**SMALL, "cells": ("lstm",), "runs": 1})
    run_study(study, tmp_path / "toy", progress=False, report=False)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    assert len(lines) == 2
    for line, T in zip(sorted(lines), (5, 7), strict=True):
        # the adding problem is scored by MSE; "test accuracy" alone would misread it
        assert re.search(rf"\] lstm adding-T{T} run 0: test MSE [0-9.e-]+ \(baseline 0\.1667\), "
                         r"[0-9.]+% within 0\.04; ETA", line), line
    from rnnlab.experiments.report import write_report

    paths = write_report(tmp_path / "toy" / "results.sqlite", "t", tmp_path / "toy" / "report")
    report = paths.markdown.read_text(encoding="utf-8")
    assert "| final test accuracy (% within 0.04) |" in report
