"""DDP under torchrun (issue 13 item 3): sharding, equal weights, rank-0 writes, resume.

The oracle is always a one-process run: N gloo processes of per-rank batch B must end with
the weights of one process trained with batch N·B, up to float summation order (they
average the same gradients in another order). Processes are launched with torchrun, as a
user would, on 127.0.0.1 with one thread each.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab.data import EncodingConfig, VocabConfig, load_dataset
from rnnlab.data.tbptt import batchify
from rnnlab.train import (
    TrainConfig,
    classifier_config_for,
    encode_dataset,
    load_checkpoint,
    train_classifier,
)
from rnnlab.train.distributed import World, world_from_env
from rnnlab.train.lm_loop import LMTrainConfig
from rnnlab.train.lm_run import load_corpus, train_language_model
from rnnlab.train.run_lock import LOCK_FILE
from rnnlab.train.shards import check_examples, lm_train_slice, shard_batch

from ..experiments.test_runner import _write_reviews

TORCHRUN = Path(sys.executable).with_name("torchrun")
# Two processes summing the same gradients in another order drift apart by a few float32
# ulps per step; after the epochs below the largest weight difference measured was ~1e-6.
WEIGHT_TOLERANCE = 2e-5


# -- sharding, without a process group --------------------------------------------------------
@pytest.mark.parametrize("batch_length", [1, 2, 5, 8])
def test_weighted_pieces_of_a_batch_average_to_the_whole_batch_mean(batch_length):
    losses = np.random.default_rng(batch_length).random(batch_length)
    index = np.arange(batch_length)
    ddp_average = 0.0
    covered = []
    for rank in range(3):
        piece, weight = shard_batch(index, World(rank, 3))
        if weight:
            covered.extend(piece.tolist())
        ddp_average += weight * losses[piece].mean() / 3  # DDP averages the ranks' gradients
    assert sorted(covered) == index.tolist()  # every example once, stand-ins weigh nothing
    assert ddp_average == pytest.approx(losses.mean(), rel=1e-12)


def test_each_rank_slices_the_streams_a_single_process_would_give_it():
    ids = np.arange(103)
    single = batchify(ids, 6)  # one process, 3 ranks × 2 streams
    for rank in range(3):
        mine = batchify(lm_train_slice(ids, 2, World(rank, 3)), 2)
        assert torch.equal(mine, single[2 * rank : 2 * rank + 2])


def test_a_world_that_leaves_a_rank_without_data_is_a_clear_error():
    with pytest.raises(ValueError, match=r"WORLD_SIZE=3 .* 2 example\(s\).*--nproc-per-node"):
        check_examples(2, World(0, 3))
    with pytest.raises(ValueError, match=r"WORLD_SIZE=2 .*--batch-size 4.*need at least 16"):
        lm_train_slice(np.arange(15), 4, World(1, 2))


def test_the_environment_torchrun_sets_is_read_and_checked():
    assert world_from_env({}) is None
    assert world_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == World(1, 2, 1)
    with pytest.raises(ValueError, match="RANK=2 and WORLD_SIZE=2"):
        world_from_env({"RANK": "2", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match="WORLD_SIZE='two'"):
        world_from_env({"RANK": "0", "WORLD_SIZE": "two"})


# -- under torchrun -----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _torchrun(*arguments: str) -> list[str]:
    return [str(TORCHRUN), "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
            "--master-port", str(_free_port()), "-m", "rnnlab", *arguments, "--threads", "1",
            "--no-progress"]


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
CLASSIFIER = ["--vocab-size", "40", "--maxlen", "10", "--embedding", "6", "--hidden", "5",
              "--dense", "4", "--lr", "0.01", "--epochs", "40"]


def _max_difference(first: dict, second: dict) -> float:
    assert first.keys() == second.keys()
    return max(float((first[key] - second[key]).abs().max()) for key in first)


@pytest.fixture(scope="module")
def reviews(tmp_path_factory) -> tuple[Path, int]:
    """A CSV and a per-rank batch whose last global batch has one example, so rank 1 takes
    a weight-0 stand-in step there."""
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    for count in range(60, 80):
        _write_reviews(path, count=count)
        train = len(load_dataset(path, valid_fraction=0.1, seed=0).train.texts)
        if train % 8 == 1:
            return path, 4
    raise AssertionError("no review count gives a last global batch of one example")


def _one_process_weights(path: Path, batch: int, epochs: int) -> dict:
    data = encode_dataset(load_dataset(path, valid_fraction=0.1, seed=0),
                          vocab_config=VocabConfig(max_size=40),
                          encoding=EncodingConfig(maxlen=10, padding="pre", truncating="pre"))
    config = classifier_config_for(data, "SS_RSF_LSTM", masked=False, embedding_size=6,
                                   hidden_size=5, dense_size=4)
    result = train_classifier(config, data, seed=0, progress=False,
                              train_config=TrainConfig(epochs=epochs, batch_size=batch, lr=0.01))
    return result.model.state_dict()


@pytest.mark.slow
def test_killed_rank_0_resumes_to_the_weights_of_one_process_with_the_whole_batch(
        tmp_path, reviews):
    path, batch = reviews
    out = tmp_path / "ddp"
    command = _torchrun("train", "--data", str(path), *CLASSIFIER, "--batch-size", str(batch),
                        "--out", str(out))
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "metrics.json").exists():  # rank 0 wrote an epoch's checkpoint
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the DDP run wrote no epoch"
        time.sleep(0.01)
    rank_0 = json.loads((out / LOCK_FILE).read_text())["pid"]  # only rank 0 holds the lock
    os.kill(rank_0, signal.SIGKILL)
    process.communicate(timeout=120)
    assert process.returncode != 0  # torchrun stopped rank 1 too
    killed_at = load_checkpoint(out / "checkpoint.pt")["epoch"]
    assert 1 <= killed_at < 40 and (out / LOCK_FILE).exists()  # a stale lock is left

    resumed = subprocess.run([*command, "--resume"], env=ENV, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("epoch 40:") == 1  # rank 0 alone reports
    assert not (out / LOCK_FILE).exists()
    saved = load_checkpoint(out / "checkpoint.pt")
    assert saved["world_size"] == 2 and len(saved["metrics"]) == 40
    oracle = _one_process_weights(path, 2 * batch, epochs=40)
    assert _max_difference(saved["model"], oracle) < WEIGHT_TOLERANCE


@pytest.mark.slow
def test_two_lm_ranks_with_half_the_streams_end_with_the_one_process_weights(tmp_path):
    corpus_dir = tmp_path / "ptb"
    corpus_dir.mkdir()
    rng = np.random.default_rng(0)
    for split, lines in (("train", 120), ("valid", 12), ("test", 12)):
        text = "\n".join(" ".join(f"w{w}" for w in rng.integers(0, 30, rng.integers(3, 10)))
                         for _ in range(lines))
        (corpus_dir / f"ptb.{split}.txt").write_text(text + "\n", encoding="utf-8")
    out = tmp_path / "lm"
    ran = subprocess.run(_torchrun("lm", "train", "--corpus", str(corpus_dir), "--epochs", "2",
                                   "--bptt", "5", "--batch-size", "2", "--eval-batch-size", "3",
                                   "--out", str(out)),
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.count("final: valid ppl") == 1

    spec = {"corpus": str(corpus_dir), "brown_path": None, "max_words": None}
    corpus = load_corpus(spec)
    from rnnlab.models.lm_presets import get_preset

    preset = get_preset("small")
    one = train_language_model(
        corpus, preset.model_config(len(corpus.vocab)),
        LMTrainConfig.from_preset(preset, epochs=2, bptt=5, batch_size=4, eval_batch_size=3),
        tmp_path / "one", corpus_spec=spec, progress=False, log=lambda _: None)
    saved = load_checkpoint(out / "checkpoint.pt")
    assert _max_difference(saved["model"], load_checkpoint(one.checkpoint)["model"]) < \
        WEIGHT_TOLERANCE
    history = json.loads((out / "history.json").read_text())
    assert history["final"]["valid_perplexity"] == pytest.approx(one.valid.perplexity, rel=1e-5)
    assert [e["train_tokens"] for e in history["epochs"]] == [
        record.train_tokens for record in one.history]
