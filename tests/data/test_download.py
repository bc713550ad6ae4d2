import hashlib

import pytest

from rnnlab.data import DataError, cache_dir, download, sha256_of


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "remote" / "file.bin"
    path.parent.mkdir()
    path.write_bytes(b"x" * 3_000_000)
    return path


def test_cache_dir_follows_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RNNLAB_CACHE")
    assert cache_dir().parts[-2:] == (".cache", "rnnlab")


def test_download_verifies_checksum_and_lands_in_cache(monkeypatch, tmp_path, source):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    path = download(source.as_uri(), digest, progress=False)
    assert path == tmp_path / "cache" / "file.bin"
    assert sha256_of(path) == digest
    assert not list((tmp_path / "cache").glob("*.part"))


def test_download_reuses_a_verified_file(tmp_path, source):
    digest = sha256_of(source)
    first = download(source.as_uri(), digest, tmp_path / "d", progress=False)
    source.unlink()  # a second download would now fail
    assert download(source.as_uri(), digest, tmp_path / "d", progress=False) == first


def test_checksum_mismatch_raises_and_leaves_nothing(tmp_path, source):
    with pytest.raises(DataError, match="sha256"):
        download(source.as_uri(), "0" * 64, tmp_path / "d", progress=False)
    assert list((tmp_path / "d").iterdir()) == []


def test_unreachable_url_raises_data_error_naming_the_url(tmp_path):
    url = (tmp_path / "missing.bin").as_uri()
    with pytest.raises(DataError, match="missing.bin"):
        download(url, None, tmp_path / "d", progress=False)
    assert list((tmp_path / "d").iterdir()) == []
