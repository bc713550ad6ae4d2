"""The transfer study: conditions of one study through the runner, checked before writing."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rnnlab.cli import main
from rnnlab.data.vocab import Vocab
from rnnlab.embeddings import WordVectors
from rnnlab.experiments.runner import run_study
from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.study import (
    StudyConfig,
    StudyFileError,
    expand_runs,
    load_study_file,
    study_from_dict,
)
from rnnlab.experiments.transfer_study import TRANSFER_STUDIES
from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from rnnlab.train import transfer as transfer_module
from tests.experiments.test_runner import TINY_MODEL, WORDS_BAD, WORDS_GOOD, _write_reviews

WORDS = (*WORDS_GOOD, *WORDS_BAD, "film")


def _vectors(path, dim=TINY_MODEL["embedding_size"]):
    rows = np.random.default_rng(0).normal(size=(len(WORDS), dim)).astype(np.float32)
    return str(WordVectors(WORDS, rows).save(path))


def _study(tmp_path, **conditions) -> dict:
    return {"name": "transfer-tiny", "dataset": str(_write_reviews(tmp_path / "reviews.csv")),
            "arrangements": ["SS_RST_LSTM"], "runs": 2, "epochs": 1, "vocab_size": 20,
            "maxlen": 10, "model": TINY_MODEL, "conditions": conditions}


def test_every_condition_trains_with_the_same_seed_per_run_under_its_own_name(tmp_path):
    vectors = _vectors(tmp_path / "w2v")
    study = study_from_dict(_study(tmp_path, baseline={},
                                   word2vec={"embedding_vectors": vectors}))
    specs = expand_runs(study, vocab_size=20, num_classes=2)
    assert [(s.arrangement, s.run_index, s.seed) for s in specs] == [
        ("baseline", 0, 0), ("word2vec", 0, 0), ("baseline", 1, 1), ("word2vec", 1, 1)]
    models = {s.arrangement: s.config["model"] for s in specs}
    assert models["word2vec"]["embedding_vectors"] == vectors
    assert "embedding_vectors" not in models["baseline"]
    assert models["baseline"]["arrangement"] is None  # so the label is the condition's name
    assert models["baseline"]["pooling"] == "mean"  # SS_RST_LSTM's


def test_a_missing_pretrained_run_or_vectors_fail_validation_naming_key_and_path(tmp_path):
    with pytest.raises(ValueError, match=r"conditions\.elmo\.encoder_run: .*'no/bilm' does "
                                         r"not exist.*rnnlab lm nextword"):
        study_from_dict(_study(tmp_path, baseline={}, elmo={"encoder_run": "no/bilm"}))
    with pytest.raises(ValueError, match=r"conditions\.word2vec\.embedding_vectors: .*no/w2v"):
        study_from_dict(_study(tmp_path, word2vec={"embedding_vectors": "no/w2v"}))


def test_compare_refuses_such_a_study_before_writing_anything(tmp_path, capsys):
    study_file = tmp_path / "transfer.json"
    study_file.write_text(json.dumps(_study(tmp_path, baseline={},
                                            elmo={"encoder_run": str(tmp_path / "bilm")})))
    out = tmp_path / "out"
    assert main(["compare", "--study", str(study_file), "--out", str(out), "--jobs", "1"]) == 2
    error = capsys.readouterr().err
    assert "conditions.elmo.encoder_run" in error and str(tmp_path / "bilm") in error
    assert not out.exists()


@pytest.mark.parametrize("change, match", [
    ({"arrangements": ["SS_RST_LSTM", "MS_RST_GRU"]}, "trains one arrangement"),
    ({"masked_arrangements": ["SS_RST_LSTM"]}, "masked_arrangements is for arrangement"),
    ({"conditions": {"bad name": {}}}, "condition name must be"),
    ({"conditions": {"w2v": {"embeding_vectors": "x"}}}, r"conditions.w2v key"),
    ({"conditions": {"w2v": {"vocab_size": 3}}}, r"conditions.w2v: \['vocab_size'\]"),
    ({"conditions": {"ft": {"encoder_training": "finetune"}}}, r"conditions.ft: .*needs "
                                                               "encoder_run"),
    ({"conditions": {"w2v": {"freeze_embedding": "yes"}}}, r"conditions.w2v.freeze_embedding"),
])
def test_bad_conditions_name_the_key(tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        study_from_dict({**_study(tmp_path, baseline={}), **change})


def test_a_study_without_conditions_is_stored_as_before():
    assert "conditions" not in StudyConfig().to_dict()


def _bundled_artifacts(root, prefix="imdb-short"):
    _vectors(root / "pretrained" / f"{prefix}-word2vec", dim=64)
    (root / "pretrained" / f"{prefix}-bilm").mkdir(parents=True)
    (root / "pretrained" / f"{prefix}-bilm" / "checkpoint.pt").write_bytes(b"")


@pytest.mark.parametrize("name", sorted(TRANSFER_STUDIES))
def test_bundled_studies_load_once_their_artifacts_exist(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StudyFileError, match=rf"bundled study {name}: conditions\.word2vec"):
        load_study_file(name)
    prefix = "imdb-short" if "short" in name else "imdb"
    _bundled_artifacts(tmp_path, prefix)
    study = load_study_file(name)
    assert list(study.conditions) == ["baseline", "word2vec", "elmo", "finetune"]
    assert study.conditions["finetune"]["encoder_training"] == "finetune"


def test_arrangements_pick_conditions_so_the_others_files_need_not_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _vectors(tmp_path / "pretrained" / "imdb-short-word2vec", dim=64)
    study = load_study_file("transfer-imdb-short-quick", ("baseline", "word2vec"))
    assert list(study.conditions) == ["baseline", "word2vec"]
    with pytest.raises(StudyFileError, match=r"\['glove'\] are not conditions"):
        load_study_file("transfer-imdb-short-quick", ("baseline", "glove"))


def test_a_tiny_transfer_study_runs_and_reports_each_condition_against_baseline(
        tmp_path, monkeypatch):
    torch.manual_seed(0)
    tokens = ("<pad>", "<unk>", "<s>", "</s>", *WORDS)
    run = SimpleNamespace(model=BidirectionalLM(BidirectionalLMConfig(
        vocab_size=len(tokens), embedding_size=4, hidden_size=3)), vocab=Vocab(tokens))
    monkeypatch.setattr(transfer_module, "load_encoder_run", lambda path: run)
    bilm = tmp_path / "bilm"
    bilm.mkdir()
    (bilm / "checkpoint.pt").write_bytes(b"")  # validation looks for it; loading is faked
    study = study_from_dict(_study(
        tmp_path, baseline={}, word2vec={"embedding_vectors": _vectors(tmp_path / "w2v")},
        elmo={"encoder_run": str(bilm)},
        finetune={"encoder_run": str(bilm), "encoder_training": "finetune"}))
    outcome = run_study(study, tmp_path / "study", jobs=1, threads=1, progress=False)
    assert outcome.status_counts["done"] == 8
    with ResultStore(outcome.store_path) as store:
        runs, _ = store.snapshot(store.study("transfer-tiny").id)
    assert {r.label for r in runs} == {"baseline", "word2vec", "elmo", "finetune"}
    assert {r.seed for r in runs if r.run_index == 1} == {1}
    report = outcome.report_markdown.read_text(encoding="utf-8")
    assert "Does each condition beat baseline?" in report
    for name in ("word2vec", "elmo", "finetune"):
        assert f"| `baseline` | `{name}` |" in report
    assert "Q1–Q3 cannot be asked" not in report
    saved = json.loads((tmp_path / "study" / "runs" / "elmo" / "run0" / "config.json")
                       .read_text())
    assert saved["transfer"]["encoder_run"]["token_share"] == 1.0


def test_vectors_replaced_between_invocations_are_refused(tmp_path):
    """Runs of one condition must all read the same vectors: the study records their
    fingerprint and refuses to go on with a different file at the same path."""
    vectors = tmp_path / "w2v"
    study = study_from_dict({**_study(tmp_path, baseline={},
                                      word2vec={"embedding_vectors": _vectors(vectors)}),
                             "runs": 1})
    outcome = run_study(study, tmp_path / "study", jobs=1, threads=1, progress=False)
    assert outcome.status_counts["done"] == 2
    run_study(study, tmp_path / "study", jobs=1, threads=1, progress=False)  # same files: fine
    shutil.copytree(vectors, tmp_path / "w2v-old")
    rows = np.random.default_rng(1).normal(size=(len(WORDS), TINY_MODEL["embedding_size"]))
    WordVectors(WORDS, rows.astype(np.float32)).save(tmp_path / "w2v-new")
    for name in ("words.json", "vectors.npy"):  # retrained and copied over the old ones
        (vectors / name).write_bytes((tmp_path / "w2v-new" / name).read_bytes())
    with pytest.raises(ValueError, match=r"conditions\.word2vec\.embedding_vectors: .*w2v.* "
                                         r"changed since study 'transfer-tiny'.*Restore"):
        run_study(study, tmp_path / "study", jobs=1, threads=1, progress=False)
    for name in ("words.json", "vectors.npy"):  # the original put back: the study goes on
        (vectors / name).write_bytes((tmp_path / "w2v-old" / name).read_bytes())
    assert run_study(study, tmp_path / "study", jobs=1, threads=1,
                     progress=False).status_counts["done"] == 2


def test_fingerprints_follow_the_content_of_each_kind_of_artifact(tmp_path):
    from rnnlab.experiments.artifacts import fingerprint, study_artifacts

    folder = tmp_path / "w2v"
    _vectors(folder)
    first = fingerprint(folder)
    assert fingerprint(folder) == first
    (folder / "vectors.npy").write_bytes((folder / "vectors.npy").read_bytes()[:-4] + b"\0" * 4)
    assert fingerprint(folder) != first
    text = tmp_path / "vectors.txt"
    text.write_text("2 1\na 0.5\nb 0.25\n")
    before = fingerprint(text)
    text.write_text("2 1\na 0.5\nb 0.75\n")
    assert fingerprint(text) != before
    run = tmp_path / "bilm"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"weights")
    (run / "checkpoint.pt.sha256").write_text("aa")
    (run / "vocab.json").write_text("{}")
    before = fingerprint(run)
    (run / "checkpoint.pt.sha256").write_text("bb")  # a new checkpoint has a new sidecar
    assert fingerprint(run) != before
    study = SimpleNamespace(model={"embedding_vectors": "v"},
                            conditions={"elmo": {"encoder_run": "r"}, "baseline": {}})
    assert study_artifacts(study) == {"model.embedding_vectors": "v",
                                      "conditions.elmo.encoder_run": "r"}


def test_the_report_compares_with_the_first_declared_condition_also_after_growth(tmp_path):
    # "scratch" does not sort first: the store's sorted JSON alone would make "pooled" the
    # reference. Grown from "pooled" alone, the declared order still puts "scratch" first.
    pooled = {"pooling": "max"}
    study = study_from_dict(_study(tmp_path, scratch={}, pooled=pooled))
    run_study(study.replace(conditions={"pooled": pooled}), tmp_path / "study", jobs=1,
              threads=1, progress=False, report=False)
    outcome = run_study(study, tmp_path / "study", jobs=1, threads=1, progress=False)
    assert outcome.status_counts["done"] == 4
    report = outcome.report_markdown.read_text(encoding="utf-8")
    assert "Does each condition beat scratch?" in report
    assert "| `scratch` | `pooled` |" in report
    # the tables list the conditions as declared, not sorted ("pooled" would come first)
    assert report.index("| `scratch` | 2/2 |") < report.index("| `pooled` | 2/2 |")
    with ResultStore(outcome.store_path) as store:
        assert store.study("transfer-tiny").config["condition_order"] == ["scratch", "pooled"]
