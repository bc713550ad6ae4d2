"""Checkpoints are atomic, verified on load, load with weights_only=True and restore every
random source."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
import torch

from rnnlab.train import checkpoint as checkpoint_module
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
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["checkpoint.pt", "checkpoint.pt.sha256"]  # no temporary file left


def test_failed_write_leaves_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1})

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        save_checkpoint(path, {"epoch": 2, "bad": Unpicklable()})
    assert load_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "checkpoint.pt.sha256"]


def test_loading_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"module": torch.nn.Linear(2, 2)}, path)  # a pickled module, not a state dict
    with pytest.raises(CheckpointError, match="could not read checkpoint") as caught:
        load_checkpoint(path)
    # rnnlab's own words, not torch's advice to load it with weights_only=False
    assert str(path) in str(caught.value) and "weights_only" not in str(caught.value)


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


def _embedding_checkpoint(path):
    """A checkpoint whose middle is a 2000 x 16 float32 embedding (128 KB of tensor data)."""
    weight = torch.arange(1.0, 2000 * 16 + 1).reshape(2000, 16)
    save_checkpoint(path, {"model": {"embedding.weight": weight}, "epoch": 1})
    return weight


def _zero_4kb_in_the_middle(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = bytes(4096)
    path.write_bytes(bytes(data))


def test_zeroed_bytes_inside_a_checkpoint_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "run" / "checkpoint.pt"
    _embedding_checkpoint(path)
    _zero_4kb_in_the_middle(path)
    with pytest.raises(CheckpointError, match="damaged") as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert str(path) in message and "delete the run directory" in message


def test_a_checkpoint_written_before_digests_still_loads(tmp_path):
    path = tmp_path / "checkpoint.pt"
    weight = _embedding_checkpoint(path)
    Path(f"{path}.sha256").unlink()  # as every checkpoint written before digests existed
    assert torch.equal(load_checkpoint(path)["model"]["embedding.weight"], weight)


def test_without_a_digest_only_the_zip_crcs_guard_a_checkpoint(tmp_path):
    # torch.load's zip reader checks the CRC of the records it reads as a whole (the pickled
    # structure), but reads tensor storages without checking theirs: the 4 KB of zeros land
    # in the embedding's storage and load silently, as 1,024 zeroed float32 weights. This is
    # what the digest file catches; a digest-less (pre-digest) checkpoint keeps only this.
    path = tmp_path / "checkpoint.pt"
    _embedding_checkpoint(path)
    Path(f"{path}.sha256").unlink()
    _zero_4kb_in_the_middle(path)
    loaded = load_checkpoint(path)["model"]["embedding.weight"]
    assert int((loaded == 0).sum()) == 1024


def test_a_broken_digest_file_is_named(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1})
    Path(f"{path}.sha256").write_text("not a digest\n")
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt\.sha256"):
        load_checkpoint(path)


def test_a_crash_between_digest_and_checkpoint_leaves_a_loadable_run(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1})
    real_replace = os.replace

    def crash_on_the_checkpoint(source, destination):
        if Path(destination) == path:
            raise KeyboardInterrupt  # killed after the digest was updated, before the rename
        real_replace(source, destination)

    monkeypatch.setattr(checkpoint_module.os, "replace", crash_on_the_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.setattr(checkpoint_module.os, "replace", real_replace)
    assert load_checkpoint(path)["epoch"] == 1
    save_checkpoint(path, {"epoch": 3})  # and the next save starts from a clean state
    assert load_checkpoint(path)["epoch"] == 3
    assert len(Path(f"{path}.sha256").read_text().splitlines()) == 1


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_checkpoint_and_digest_get_the_mode_of_any_new_file(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        save_checkpoint(tmp_path / "checkpoint.pt", {"epoch": 1})
        (tmp_path / "sibling.json").write_text("{}")
    finally:
        os.umask(previous)
    for name in ("checkpoint.pt", "checkpoint.pt.sha256", "sibling.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", "truncated"])
def test_unreadable_checkpoints_name_the_file_in_rnnlab_terms(tmp_path, content):
    path = tmp_path / "checkpoint.pt"
    if content == "truncated":
        _embedding_checkpoint(path)
        content = path.read_bytes()[: path.stat().st_size // 3]
        Path(f"{path}.sha256").unlink()
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert str(path) in message and "Errno" not in message and "weights_only" not in message
    assert "restore" in message  # says what to do about it
