"""Checkpoints: a dict of state dicts, config, step and metrics — never a pickled module.

Written atomically (a temporary file in the same directory, flushed to disk, then renamed
over the old one), so a process killed at any moment leaves either the previous checkpoint or
the new one, never half of one. Loaded with ``weights_only=True``: a checkpoint can hold
tensors, numbers, strings, lists and dicts, and loading one cannot run code.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import torch


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or not one of ours."""


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Atomically write ``payload`` to ``path`` (parent directories are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(payload, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory for this.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``, on CPU)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path} (train a model first, or check "
                              "the run directory)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise CheckpointError(f"could not read checkpoint {path}: {error}") from error
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path} is not an rnnlab checkpoint (got {type(payload).__name__})")
    return payload


def capture_rng_state(generators: dict[str, torch.Generator] | None = None) -> dict[str, Any]:
    """The state of every random source a training run uses, for an exact resume."""
    python_version, python_state, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "python": [python_version, list(python_state), gauss],
        "generators": {name: g.get_state() for name, g in (generators or {}).items()},
    }


def restore_rng_state(
    state: dict[str, Any], generators: dict[str, torch.Generator] | None = None
) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    python_version, python_state, gauss = state["python"]
    random.setstate((python_version, tuple(python_state), gauss))
    for name, generator in (generators or {}).items():
        generator.set_state(state["generators"][name])
