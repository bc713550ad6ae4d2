import shutil
import time

import numpy as np
import pytest

import rnnlab.data.imdb as imdb_module
from rnnlab.data import (
    IMDB_LABELS,
    DataError,
    DataNotFoundError,
    DataWarning,
    load_dataset,
    load_imdb,
    sha256_of,
)
from tests.data.helpers import make_tar

TRAIN_IDS = ("train/neg/7_1", "train/neg/11_2", "train/pos/2_8", "train/pos/10_9")
TEST_IDS = ("test/neg/4_1", "test/neg/5_3", "test/pos/1_7", "test/pos/3_10")


def test_folder_loads_both_splits_ordered_by_label_then_numeric_id(fixtures):
    data = load_imdb(fixtures / "aclImdb", valid_fraction=0.0)
    assert data.train.ids == TRAIN_IDS  # 7 < 11 numerically; unsup/ is ignored
    assert data.test.ids == TEST_IDS
    assert data.train.labels.tolist() == [0, 0, 1, 1]
    assert data.label_names == IMDB_LABELS == ("neg", "pos")
    assert data.train.texts[3].startswith("A wonderful film.<br />")
    assert len(data.valid) == 0


def test_parent_of_aclimdb_folder_is_accepted(fixtures):
    assert load_imdb(fixtures, valid_fraction=0.0).train.ids == TRAIN_IDS


def test_archive_and_folder_give_the_same_dataset(fixtures, tmp_path):
    archive = make_tar(fixtures / "aclImdb", tmp_path / "aclImdb_v1.tar.gz")
    from_tar = load_imdb(archive, valid_fraction=0.0)
    from_folder = load_imdb(fixtures / "aclImdb", valid_fraction=0.0)
    assert from_tar.train.texts == from_folder.train.texts
    assert from_tar.test.ids == from_folder.test.ids


def test_valid_split_is_stratified_seeded_and_disjoint(fixtures):
    data = load_imdb(fixtures / "aclImdb", valid_fraction=0.5, seed=3)
    assert np.bincount(data.valid.labels).tolist() == [1, 1]
    assert set(data.valid.ids).isdisjoint(data.train.ids)
    assert set(data.valid.ids) | set(data.train.ids) == set(TRAIN_IDS)
    assert load_imdb(fixtures / "aclImdb", valid_fraction=0.5, seed=3).valid.ids == data.valid.ids


def test_missing_path_says_how_to_get_the_data(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"path=.*does not exist.*download=True"):
        load_imdb(tmp_path / "aclImdb")


def test_nothing_found_without_path_says_how_to_get_the_data(isolated_env):
    with pytest.raises(DataNotFoundError, match=r"download=True"):
        load_imdb()


def test_folder_without_aclimdb_layout_is_rejected(tmp_path):
    (tmp_path / "aclImdb" / "train").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match="train/neg"):
        load_imdb(tmp_path / "aclImdb")


def test_corrupt_archive_gets_a_clear_error(tmp_path):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match="not a readable tar archive"):
        load_imdb(archive)


def test_archive_without_reviews_is_rejected(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a.txt").write_text("hello")
    archive = make_tar(tmp_path / "other", tmp_path / "other.tar.gz")
    with pytest.raises(DataError, match="contains no aclImdb"):
        load_imdb(archive)


def test_undecodable_bytes_are_replaced_with_a_warning_naming_the_file(fixtures, tmp_path):
    folder = tmp_path / "aclImdb"
    shutil.copytree(fixtures / "aclImdb", folder)
    (folder / "test" / "pos" / "9_9.txt").write_bytes(b"Caf\xe9 scene was great")
    with pytest.warns(DataWarning, match=r"9_9\.txt.*replaced"):
        data = load_imdb(folder, valid_fraction=0.0)
    assert data.test.texts[-1] == "Caf\ufffd scene was great"


def test_download_checks_sha256_and_uses_cache(fixtures, isolated_env, tmp_path, monkeypatch):
    archive = make_tar(fixtures / "aclImdb", tmp_path / "aclImdb_v1.tar.gz")
    monkeypatch.setattr(imdb_module, "IMDB_URL", archive.as_uri())
    monkeypatch.setattr(imdb_module, "IMDB_SHA256", sha256_of(archive))
    data = load_imdb(download=True, progress=False, valid_fraction=0.0)
    assert data.train.ids == TRAIN_IDS
    assert (isolated_env / "aclImdb_v1.tar.gz").is_file()
    archive.unlink()  # now only the cached copy can serve it
    assert load_imdb(valid_fraction=0.0).test.ids == TEST_IDS


def test_download_with_wrong_checksum_fails(fixtures, isolated_env, tmp_path, monkeypatch):
    archive = make_tar(fixtures / "aclImdb", tmp_path / "aclImdb_v1.tar.gz")
    monkeypatch.setattr(imdb_module, "IMDB_URL", archive.as_uri())
    with pytest.raises(DataError, match="sha256"):
        load_imdb(download=True, progress=False)


def test_load_dataset_dispatches_aclimdb_paths_to_the_imdb_loader(fixtures, tmp_path):
    assert load_dataset(fixtures / "aclImdb", valid_fraction=0.0).name == "imdb"
    archive = make_tar(fixtures / "aclImdb", tmp_path / "reviews.tar.gz")
    assert load_dataset(str(archive), valid_fraction=0.0).train.ids == TRAIN_IDS


@pytest.mark.slow
def test_real_archive_has_25k_train_and_25k_test_balanced(imdb_archive_path):
    start = time.perf_counter()
    data = load_imdb(imdb_archive_path)
    elapsed = time.perf_counter() - start
    assert len(data.train) + len(data.valid) == 25_000
    assert len(data.valid) == 2_500
    assert len(data.test) == 25_000
    assert np.bincount(data.test.labels).tolist() == [12_500, 12_500]
    assert np.bincount(np.concatenate([data.train.labels, data.valid.labels])).tolist() == [
        12_500,
        12_500,
    ]
    assert len(set(data.train.ids) | set(data.valid.ids) | set(data.test.ids)) == 50_000
    assert elapsed < 30, f"reading the archive took {elapsed:.1f} s"


@pytest.mark.slow
def test_imdb_name_finds_the_archive_through_rnnlab_data_dir(imdb_archive_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(imdb_archive_path.parents[1]))
    assert len(load_dataset("imdb").test) == 25_000
