import lzma

import numpy as np
import pytest

from rnnlab.data import load_dataset, load_imdb_short, tokenize
from rnnlab.data.imdb_short import SHORT_FILENAME, read_short_subset, write_short_subset
from tests.data.helpers import make_tar

# Counts from scripts/make_imdb_short.py on the shared archive (also in bundled/README.md).
COUNTS = {("train", "neg"): 993, ("train", "pos"): 1305, ("test", "neg"): 1087,
          ("test", "pos"): 1325}  # fmt: skip


def test_imdb_short_loads_without_download_with_documented_counts(isolated_env):
    data = load_dataset("imdb-short")
    assert data.name == "imdb-short" and data.label_names == ("neg", "pos")
    assert (len(data.train), len(data.valid), len(data.test)) == (2069, 229, 2412)
    train_counts = data.train.counts(2) + data.valid.counts(2)
    assert train_counts.tolist() == [COUNTS["train", "neg"], COUNTS["train", "pos"]]
    assert data.test.counts(2).tolist() == [COUNTS["test", "neg"], COUNTS["test", "pos"]]


def test_every_bundled_review_has_at_most_100_tokens_and_a_unique_id():
    reviews = read_short_subset()
    assert max(len(tokenize(text)) for _, _, _, text in reviews) <= 100
    ids = [f"{split}/{label}/{stem}" for split, label, stem, _ in reviews]
    assert len(set(ids)) == len(ids) == sum(COUNTS.values())


def test_valid_split_is_seeded_and_held_out_of_train():
    a, b = load_imdb_short(seed=1), load_imdb_short(seed=1)
    assert a.valid.ids == b.valid.ids
    assert a.valid.ids != load_imdb_short(seed=2).valid.ids
    assert set(a.valid.ids).isdisjoint(a.train.ids)
    assert np.bincount(a.valid.labels).tolist() == [99, 130]  # round(10 % of each label)


def test_bundled_file_is_small():
    from importlib import resources

    size = len(resources.files("rnnlab.data").joinpath("bundled", SHORT_FILENAME).read_bytes())
    assert size <= 2_000_000


def test_writer_keeps_only_short_reviews_and_round_trips(fixtures, tmp_path):
    out = tmp_path / SHORT_FILENAME
    counts = write_short_subset(fixtures / "aclImdb", out, max_tokens=5)
    # "Terrible. Just terrible." (5 tokens) and "Worst movie I've seen." (5) are the only ones
    assert dict(counts) == {("train", "neg"): 1, ("test", "neg"): 1}
    assert [r[2] for r in read_short_subset(out)] == ["7_1", "4_1"]
    first = out.read_bytes()
    write_short_subset(make_tar(fixtures / "aclImdb", tmp_path / "a.tar.gz"), out, max_tokens=5)
    assert out.read_bytes() == first  # reproducible, folder or archive alike


def test_texts_with_unicode_line_separators_survive_the_round_trip(tmp_path, fixtures):
    folder = tmp_path / "aclImdb"
    import shutil

    shutil.copytree(fixtures / "aclImdb", folder)
    (folder / "test" / "pos" / "8_8.txt").write_text("Line\u2028break ok", encoding="utf-8")
    out = tmp_path / SHORT_FILENAME
    write_short_subset(folder, out)
    assert "Line\u2028break ok" in [r[3] for r in read_short_subset(out)]


def test_corrupt_subset_file_gets_a_clear_error(tmp_path):
    from rnnlab.data import DataError

    bad = tmp_path / SHORT_FILENAME
    bad.write_bytes(lzma.compress(b'{"id": 1}\n'))
    with pytest.raises(DataError, match="make_imdb_short"):
        read_short_subset(bad)


@pytest.mark.slow
def test_bundled_subset_is_reproducible_from_the_shared_archive(imdb_archive_path, tmp_path):
    from importlib import resources

    out = tmp_path / SHORT_FILENAME
    counts = write_short_subset(imdb_archive_path, out)
    assert dict(counts) == COUNTS
    bundled = resources.files("rnnlab.data").joinpath("bundled", SHORT_FILENAME).read_bytes()
    assert out.read_bytes() == bundled
