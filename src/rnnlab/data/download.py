"""Downloading a file into the cache, with a checksum and a progress bar.

The cache directory is ``$RNNLAB_CACHE`` if set, else ``~/.cache/rnnlab``. A download goes to
``<name>.part`` next to its destination and is renamed into place only after its sha256 has
been checked, so an interrupted or corrupt download never looks like a finished one.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from rnnlab.data.errors import DataError

_CHUNK = 1 << 20


def cache_dir() -> Path:
    """The directory downloads are cached in: ``$RNNLAB_CACHE`` or ``~/.cache/rnnlab``."""
    override = os.environ.get("RNNLAB_CACHE")
    return Path(override).expanduser() if override else Path.home() / ".cache" / "rnnlab"


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    sha256: str | None,
    directory: str | os.PathLike[str] | None = None,
    filename: str | None = None,
    progress: bool = True,
) -> Path:
    """Download ``url`` into ``directory`` (default ``cache_dir()``); return the file path.

    If the file is already there with the right checksum nothing is downloaded. A checksum
    mismatch raises DataError and leaves no file behind.
    """
    target_dir = Path(directory) if directory is not None else cache_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / (filename or url.rstrip("/").rsplit("/", 1)[-1])
    if target.exists() and (sha256 is None or sha256_of(target) == sha256):
        return target
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url) as response, open(partial, "wb") as out:
            total = response.headers.get("Content-Length")
            with tqdm(
                total=int(total) if total else None,
                unit="B",
                unit_scale=True,
                desc=f"downloading {target.name}",
                disable=not progress,
            ) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise DataError(
            f"could not download url={url!r}: {error}. Check the network, or download the "
            f"file yourself and pass its path."
        ) from error
    if sha256 is not None and digest.hexdigest() != sha256:
        partial.unlink(missing_ok=True)
        raise DataError(
            f"sha256 of the download from url={url!r} is {digest.hexdigest()}, expected "
            f"{sha256}; the file was removed. Retry, or pass a local copy by path."
        )
    os.replace(partial, target)
    return target
