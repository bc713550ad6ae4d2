"""Checkpoints are atomic, load with weights_only=True and restore every random source."""

from __future__ import annotations

import random

import pytest
import torch

from rnnlab.train.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


def test_round_trip_keeps_tensors_and_metadata(tmp_path):
    payload = {"model": {"w": torch.arange(3.0)}, "epoch": 2, "metrics": [{"loss": 0.5}]}
    save_checkpoint(tmp_path / "run" / "checkpoint.pt", payload)
    loaded = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert torch.equal(loaded["model"]["w"], payload["model"]["w"])
    assert loaded["epoch"] == 2 and loaded["metrics"] == [{"loss": 0.5}]
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["checkpoint.pt"]  # no temp left


def test_failed_write_leaves_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1})

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        save_checkpoint(path, {"epoch": 2, "bad": Unpicklable()})
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_loading_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"module": torch.nn.Linear(2, 2)}, path)  # a pickled module, not a state dict
    with pytest.raises(CheckpointError, match="could not read checkpoint"):
        load_checkpoint(path)


def test_missing_and_corrupt_files_get_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not read"):
        load_checkpoint(tmp_path / "junk.pt")


def test_rng_state_round_trip_through_a_checkpoint(tmp_path):
    generator = torch.Generator().manual_seed(3)
    torch.manual_seed(1)
    random.seed(2)
    save_checkpoint(tmp_path / "c.pt", {"rng": capture_rng_state({"batches": generator})})
    expected = (torch.rand(2), random.random(), torch.rand(2, generator=generator))
    torch.manual_seed(99)
    random.seed(99)
    generator.manual_seed(99)
    restore_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"], {"batches": generator})
    got = (torch.rand(2), random.random(), torch.rand(2, generator=generator))
    assert torch.equal(got[0], expected[0]) and got[1] == expected[1]
    assert torch.equal(got[2], expected[2])
