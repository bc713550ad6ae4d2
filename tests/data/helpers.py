"""Helpers shared by the rnnlab.data tests."""

from __future__ import annotations

import tarfile
from pathlib import Path


def make_tar(source: Path, archive: Path) -> Path:
    """Pack ``source`` (a folder) into ``archive`` (.tar.gz) under its own name."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname=source.name)
    return archive
