"""Checkpoints: a dict of state dicts, config, step and metrics — never a pickled module.

Written atomically (a temporary file in the same directory, flushed to disk, then renamed
over the old one), so a process killed at any moment leaves either the previous checkpoint or
the new one, never half of one. Loaded with ``weights_only=True``: a checkpoint can hold
tensors, numbers, strings, lists and dicts, and loading one cannot run code.

Beside every checkpoint lies its SHA-256 digest, in ``sha256sum`` format, and loading
verifies it: torch's zip reader checks the CRCs of the records it reads whole but not of the
tensor storages, so bytes damaged inside a tensor would otherwise load as wrong weights::

    runs/x/checkpoint.pt          the checkpoint
    runs/x/checkpoint.pt.sha256   "<64 hex digits>  checkpoint.pt"

A save writes the new checkpoint to a temporary file, then the digest file listing the new
digest and the previous one, then renames the checkpoint into place, then rewrites the digest
file with the new digest alone. Whichever step a kill interrupts, the checkpoint on disk has
its digest listed. Checkpoints written before digests existed (no ``.sha256``) still load,
guarded by the zip CRCs only.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import random
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

DIGEST_SUFFIX = ".sha256"
_DIGEST_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, damaged or not one of ours."""


def digest_path(path: str | os.PathLike) -> Path:
    """Where the SHA-256 digest of the checkpoint at ``path`` is kept."""
    path = Path(path)
    return path.with_name(path.name + DIGEST_SUFFIX)


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Atomically write ``payload`` to ``path`` and its digest beside it (parent directories
    are created; both files get the mode of any new file, 0644 under the usual umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = _previous_digest(path)
    temporary = _write_temporary(path, lambda stream: torch.save(payload, stream))
    try:
        digest = _sha256(temporary.read_bytes())
        _write_digests(path, [digest, *previous])
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _write_digests(path, [digest])
    _fsync_directory(path.parent)
    return path


def _write_temporary(path: Path, write: Callable[[IO[bytes]], None]) -> Path:
    """A new file beside ``path`` holding what ``write`` writes, flushed to disk.

    ``os.open`` with mode 0o666 lets the umask decide the permissions, as for any new file
    (``tempfile.mkstemp`` would force 0600).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            descriptor = os.open(temporary, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _write_digests(path: Path, digests: list[str]) -> None:
    lines = "".join(f"{digest}  {path.name}\n" for digest in dict.fromkeys(digests))
    temporary = _write_temporary(digest_path(path), lambda stream: stream.write(lines.encode()))
    try:
        os.replace(temporary, digest_path(path))
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _previous_digest(path: Path) -> list[str]:
    """The digest of the checkpoint a save replaces, so a kill mid-save leaves it loadable."""
    if not path.is_file():
        return []
    try:
        recorded = _recorded_digests(path)
    except CheckpointError:
        recorded = None
    return recorded[:1] if recorded else [_sha256(path.read_bytes())]


def _recorded_digests(path: Path) -> list[str] | None:
    """The digests listed beside ``path``; None when it has no digest file (an old run)."""
    digest_file = digest_path(path)
    try:
        text = digest_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"could not read the digest file {digest_file}: {error}") from error
    digests = []
    for line in text.splitlines():
        match = _DIGEST_LINE.fullmatch(line.strip())
        if match is None or match.group(2) != path.name:
            digests = []
            break
        digests.append(match.group(1))
    if not digests:
        raise CheckpointError(
            f"{digest_file} is not a SHA-256 digest file of {path.name} (expected lines "
            f"'<64 hex digits>  {path.name}'); restore it from a backup, or delete it to load "
            f"{path} unverified")
    return digests


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``, on CPU),
    after checking it against its digest file when it has one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path} (train a model first, or check "
                              "the run directory)")
    remedy = (f"delete the run directory {path.parent} and train again, or restore "
              f"{path.name} from a backup")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"could not read checkpoint {path}: {error.strerror}; "
                              f"{remedy}") from error
    expected = _recorded_digests(path)
    if expected is not None and _sha256(data) not in expected:
        raise CheckpointError(
            f"checkpoint {path} is damaged: its SHA-256 differs from the one recorded in "
            f"{digest_path(path).name} when it was written, so its weights cannot be trusted; "
            f"{remedy}")
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's message advises weights_only=False, i.e. running the file's code: never.
        raise CheckpointError(
            f"could not read checkpoint {path}: it holds objects other than tensors and plain "
            f"data (a pickled module or code), which rnnlab never writes, so it is refused "
            f"unread; {remedy}") from error
    except Exception as error:  # torch raises several types for truncated or foreign files
        reason = (str(error).splitlines() or [type(error).__name__])[0][:120]
        raise CheckpointError(
            f"could not read checkpoint {path}: truncated or not a PyTorch checkpoint "
            f"({reason or type(error).__name__}); {remedy}") from error
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
