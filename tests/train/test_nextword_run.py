"""Seed 000's next-word model as a run: files, bit-identical resume after a kill, the leak
verdict at the end, and ``load_nextword_run`` with its errors."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnlab.diagnostics.nextword_leaks import audit_for_training
from rnnlab.models.bidirectional_lm import BidirectionalLM
from rnnlab.train import CheckpointError, load_checkpoint, load_run, train_classifier
from rnnlab.train.checkpoint import save_checkpoint
from rnnlab.train.nextword_run import NextWordRun, load_nextword_run, train_nextword_run
from tests.train.helpers import synthetic_data, tiny_config
from tests.train.nextword_helpers import data_config, model_config, train_config, write_texts

REPO = Path(__file__).resolve().parents[2]
QUIET = {"progress": False, "log": lambda _: None}


@pytest.fixture
def texts(tmp_path) -> Path:
    return write_texts(tmp_path / "texts.txt")


def train(texts: Path, out: Path, epochs: int = 2, **options):
    model = model_config(**{k: options.pop(k) for k in ("variant", "softmax")
                            if k in options})
    options.setdefault("audit", audit_for_training)
    return train_nextword_run(data_config(texts), model, train_config(epochs), out,
                              **QUIET, **options)


def assert_same_weights(first: torch.nn.Module, second: torch.nn.Module) -> None:
    one, two = first.state_dict(), second.state_dict()
    assert one.keys() == two.keys()
    for name in one:
        assert torch.equal(one[name], two[name]), name


def without_seconds(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_a_run_writes_checkpoint_digest_config_vocab_metrics_and_audit(texts, tmp_path):
    result = train(texts, tmp_path / "run")
    run_dir = tmp_path / "run"
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "checkpoint.pt", "checkpoint.pt.sha256", "config.json", "leak_audit.json",
        "metrics.json", "vocab.json"]
    strict = {"parse_constant": lambda c: pytest.fail(f"not standard JSON: {c}")}
    metrics = json.loads((run_dir / "metrics.json").read_text(), **strict)
    config = json.loads((run_dir / "config.json").read_text(), **strict)
    vocab = json.loads((run_dir / "vocab.json").read_text(), **strict)
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2]
    for key in ("forward_accuracy", "backward_accuracy", "forward_perplexity",
                "backward_perplexity", "valid_tokens"):
        assert key in metrics["epochs"][0]
    assert metrics["final"]["leak_audit"]["passed"] is True
    assert metrics["final"]["leak_audit"]["flag"] is None
    assert config["variant"] == "fixed" and config["model"]["vocab_size"] == len(vocab["tokens"])
    assert vocab["tokens"][:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert config["data"]["data"] == str(texts)  # absolute: a resume from elsewhere finds it
    assert result.run.metrics == metrics
    payload = load_checkpoint(run_dir / "checkpoint.pt")  # digest checked, weights_only
    assert payload["epoch"] == 2 and payload["final"] == metrics["final"]


@pytest.mark.parametrize("softmax", ["full", "adaptive"])
def test_one_epoch_then_resume_equals_two_epochs_bit_for_bit(texts, tmp_path, softmax):
    whole = train(texts, tmp_path / "whole", epochs=2, softmax=softmax)
    train(texts, tmp_path / "split", epochs=1, softmax=softmax)
    resumed = train(texts, tmp_path / "split", epochs=2, softmax=softmax, resume=True)
    assert resumed.resumed_from == 1
    assert_same_weights(resumed.run.model, whole.run.model)
    assert without_seconds(resumed.run.metrics["epochs"]) == without_seconds(
        whole.run.metrics["epochs"])


def test_sigkill_after_an_epoch_then_resume_is_bit_identical(texts, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    child = subprocess.run([sys.executable, "-m", "tests.train.nextword_helpers", str(texts),
                            str(tmp_path / "killed"), "2"],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert child.returncode == -9, child.stderr
    assert load_checkpoint(tmp_path / "killed" / "checkpoint.pt")["epoch"] == 2
    assert json.loads((tmp_path / "killed" / "metrics.json").read_text())["final"] is None
    resumed = train(texts, tmp_path / "killed", epochs=3, softmax="adaptive", resume=True)
    whole = train(texts, tmp_path / "whole", epochs=3, softmax="adaptive")
    assert resumed.resumed_from == 2
    assert_same_weights(resumed.run.model, whole.run.model)


def test_a_bucketed_run_resumes_bit_identically(texts, tmp_path):
    bucketed = dataclasses.replace(train_config(2), bucket_pool_batches=2)
    def run(out: Path, epochs: int, **options):
        return train_nextword_run(data_config(texts), model_config(),
                                  dataclasses.replace(bucketed, epochs=epochs), out,
                                  **QUIET, **options)
    whole = run(tmp_path / "whole", 2)
    run(tmp_path / "split", 1)
    resumed = run(tmp_path / "split", 2, resume=True)
    assert_same_weights(resumed.run.model, whole.run.model)
    assert json.loads((tmp_path / "whole" / "config.json").read_text())["train"][
        "bucket_pool_batches"] == 2
    plain = train(texts, tmp_path / "plain", epochs=2, audit=None)
    assert not torch.equal(plain.run.model.state_dict()["embedding.weight"],
                           whole.run.model.state_dict()["embedding.weight"])


def test_a_run_saved_before_bucketing_existed_resumes_as_a_plain_shuffle(texts, tmp_path):
    train(texts, tmp_path / "old", epochs=1, audit=None)
    checkpoint = tmp_path / "old" / "checkpoint.pt"
    payload = load_checkpoint(checkpoint)
    del payload["train_config"]["bucket_pool_batches"]  # as the run was saved then
    save_checkpoint(checkpoint, payload)
    resumed = train(texts, tmp_path / "old", epochs=2, audit=None, resume=True)
    whole = train(texts, tmp_path / "whole", epochs=2, audit=None)
    assert_same_weights(resumed.run.model, whole.run.model)


def test_the_seed_bug_is_flagged_in_the_metrics_and_the_loaded_run(texts, tmp_path):
    result = train(texts, tmp_path / "leaky", variant="leaky", epochs=1)
    audit = result.run.metrics["final"]["leak_audit"]
    assert audit["passed"] is False and audit["leaking_outputs"] == ["backward"]
    assert audit["flag"].startswith("LEAKY MODEL: the backward output")
    loaded = load_nextword_run(tmp_path / "leaky")
    assert loaded.variant == "leaky" and loaded.leak_audit == audit
    assert not result.leak_report.passed


def test_the_loader_gives_the_model_vocab_config_and_metrics_other_code_builds_on(texts,
                                                                                  tmp_path):
    train(texts, tmp_path / "run", softmax="adaptive")
    run = load_nextword_run(tmp_path / "run")
    assert [f.name for f in dataclasses.fields(NextWordRun)][:4] == [
        "model", "vocab", "config", "metrics"]
    assert isinstance(run.model, BidirectionalLM) and not run.model.training
    assert run.model.config.softmax == "adaptive" and run.epoch == 2
    encoded = run.encode(["the cat sat", "zebra"])  # zebra is not in the vocabulary
    assert run.vocab.decode(encoded.ids[0].tolist()) == ["<s>", "the", "cat", "sat", "</s>"]
    assert run.vocab.decode(encoded.ids[1].tolist()) == ["<s>", "<unk>", "</s>"]
    with torch.no_grad():
        scores = run.model(encoded.ids, lengths=encoded.lengths)
    assert scores["forward"].shape == (2, 5, len(run.vocab))


def test_a_directory_without_a_checkpoint_names_the_path_and_the_fix(tmp_path):
    (tmp_path / "begun").mkdir()
    (tmp_path / "begun" / "config.json").write_text("{}")
    with pytest.raises(CheckpointError) as error:
        load_nextword_run(tmp_path / "begun")
    message = str(error.value)
    assert str(tmp_path / "begun") in message and "no checkpoint.pt" in message
    assert "['config.json']" in message and "rnnlab lm nextword --out DIR" in message
    with pytest.raises(FileNotFoundError, match="does not exist; pass the --out directory"):
        load_nextword_run(tmp_path / "nowhere")


def test_another_kind_of_run_is_refused_by_name_and_a_nextword_run_by_load_run(texts,
                                                                               tmp_path):
    data = synthetic_data()
    train_classifier(tiny_config(data), data, seed=0, out_dir=tmp_path / "clf", epochs=1,
                     progress=False)
    with pytest.raises(CheckpointError, match="is not a next-word run .*rnnlab.classifier-run/1"):
        load_nextword_run(tmp_path / "clf")
    train(texts, tmp_path / "nw", epochs=1)
    with pytest.raises(CheckpointError, match="rnnlab.nextword-run/1"):
        load_run(tmp_path / "nw")


def test_an_existing_run_needs_resume_and_resume_needs_the_same_settings(texts, tmp_path):
    train(texts, tmp_path / "run", epochs=1)
    with pytest.raises(ValueError, match="already holds a run .*pass --resume"):
        train(texts, tmp_path / "run", epochs=2)
    with pytest.raises(ValueError, match=r"the model config differs .*\['softmax'\]"):
        train(texts, tmp_path / "run", epochs=2, softmax="adaptive", resume=True)
    train(texts, tmp_path / "run", epochs=2, resume=True)
    with pytest.raises(ValueError, match="--epochs 1 but .* already has 2 epochs"):
        train(texts, tmp_path / "run", epochs=1, resume=True)


def test_bad_data_leaves_nothing_behind_and_the_callers_rng_is_untouched(tmp_path):
    (tmp_path / "one.txt").write_text("only one line\n")
    state = torch.get_rng_state()
    with pytest.raises(ValueError, match="gives no valid text"):
        train(tmp_path / "one.txt", tmp_path / "run")
    assert not (tmp_path / "run").exists()
    train(write_texts(tmp_path / "texts.txt"), tmp_path / "ok", epochs=1)
    assert torch.equal(torch.get_rng_state(), state)


def test_without_an_audit_the_run_records_none_and_says_how_to_audit(texts, tmp_path):
    from rnnlab.train.nextword_run import summary_lines

    result = train(texts, tmp_path / "plain", epochs=1, audit=None)
    assert result.leak_report is None
    assert result.run.metrics["final"]["leak_audit"] is None
    assert not (tmp_path / "plain" / "leak_audit.json").exists()
    assert summary_lines(result)[-1] == "leak audit: not run (rnnlab audit RUN_DIR runs it)"
