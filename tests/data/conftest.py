"""Fixtures for rnnlab.data tests: the tiny fixtures folder and the shared real corpora.

The real archives live outside the repo in ``$RNNLAB_DATA_DIR`` (default
``<repo>/../shared/data``); tests that need them are skipped with the reason when absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    return Path(os.environ.get("RNNLAB_DATA_DIR") or REPO.parent / "shared" / "data")


def _shared_file(relative: str) -> Path:
    path = shared_data_dir() / relative
    if not path.is_file():
        pytest.skip(
            f"{relative} not found in {shared_data_dir()} (set RNNLAB_DATA_DIR to the folder "
            f"holding imdb/ and brown/)"
        )
    return path


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def imdb_archive_path() -> Path:
    return _shared_file("imdb/aclImdb_labeled.tar.gz")


@pytest.fixture
def brown_archive_path() -> Path:
    return _shared_file("brown/brown.tar.gz")


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty cache dir and no data folder (RNNLAB_DATA_DIR="" also turns off a checkout's
    ../shared/data), so lookups cannot find real data."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RNNLAB_CACHE", str(cache))
    monkeypatch.setenv("RNNLAB_DATA_DIR", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return cache
