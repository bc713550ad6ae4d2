import shutil

import numpy as np
import pytest

from rnnlab.data import (
    BROWN_GENRES,
    BrownLMConfig,
    DataError,
    DataNotFoundError,
    load_brown_genres,
    load_brown_lm,
    load_brown_tagging,
    load_dataset,
    read_brown,
    simplify_tag,
)
from tests.data.helpers import make_tar


@pytest.mark.parametrize(
    ("tag", "simple"),
    [
        ("np-tl", "np"), ("fw-nn-tl", "nn"), ("dod*", "dod"), ("*", "*"), ("ber*-nc", "ber"),
        ("*-hl", "*"), ("pps+bez-nc", "pps+bez"), ("NN-TL", "nn"), ("in+at-t", "in+at"),
        ("ppss+ber-n", "ppss+ber"), ("---hl", "--"), (",-hl", ","), ("np$", "np$"),
        ("nns-tl-hl", "nns"),
    ],
)  # fmt: skip
def test_simplify_tag_strips_decorations(tag, simple):
    assert simplify_tag(tag) == simple


def test_reader_gives_per_file_sentences_of_word_tag_pairs(fixtures):
    corpus = read_brown(fixtures / "brown")
    assert [d.fileid for d in corpus.documents] == ["ca01", "ca02", "cb01", "cn01"]
    assert [d.genre for d in corpus.documents] == ["news", "news", "editorial", "adventure"]
    assert corpus.documents[0].sentences == (
        (("The", "at"), ("jury", "nn"), ("said", "vbd"), (".", ".")),
        (("It's", "pps+bez"), ("over", "rb"), (".", ".")),
    )
    assert corpus.genres == ("adventure", "editorial", "news")
    assert len(corpus.words()) == 25 and len(corpus.tagged_sentences()) == 6


def test_simplified_tags_option(fixtures):
    corpus = read_brown(fixtures / "brown", simplify_tags=True)
    assert corpus.documents[1].sentences[0][1] == ("Fulton", "np")
    assert corpus.documents[2].sentences[0][2] == ("didn't", "dod")
    assert "np-tl" in read_brown(fixtures / "brown").tags()
    assert "np-tl" not in corpus.tags()


def test_archive_reads_like_the_folder(fixtures, tmp_path):
    archive = make_tar(fixtures / "brown", tmp_path / "brown.tar.gz")
    assert read_brown(archive).documents == read_brown(fixtures / "brown").documents
    assert read_brown(fixtures).documents == read_brown(fixtures / "brown").documents


def test_genre_view_labels_documents_by_sorted_genre(fixtures):
    data = load_brown_genres(fixtures / "brown", valid_fraction=0.0, test_fraction=0.25)
    assert data.label_names == ("adventure", "editorial", "news")
    assert len(data.test) == 1 and data.test.labels.tolist() == [2]  # one of the two news
    assert len(data.train) == 3 and len(data.valid) == 0
    texts = dict(
        zip(data.train.ids + data.test.ids, data.train.texts + data.test.texts, strict=True)
    )
    assert texts["brown/ca01"] == "The jury said . It's over ."


# Fixture stream (25 words, 6 sentences):
#   The jury said . | It's over . | The Fulton County jury . | The editor didn't agree . |
#   He ran . | The jury ran not .
def test_lm_view_splits_by_word_count_with_eos_following_its_word(fixtures):
    config = BrownLMConfig(train_words=7, valid_words=10, max_rare_count=0)
    corpus = load_brown_lm(fixtures / "brown", config)
    # vocab: <unk> <eos>, then train words by count ("." twice), ties by string
    assert corpus.vocab.tokens == ("<unk>", "<eos>", ".", "It's", "The", "jury", "over", "said")
    assert corpus.train.tolist() == [4, 5, 7, 2, 1, 3, 6, 2, 1]
    assert corpus.valid.tolist() == [4, 0, 0, 5, 2, 1, 4, 0, 0, 0, 2, 1]
    assert len(corpus.test) == 10 and corpus.test.dtype == np.int64


def test_lm_view_maps_rare_train_words_to_unk(fixtures):
    config = BrownLMConfig(train_words=7, valid_words=10, max_rare_count=1)
    corpus = load_brown_lm(fixtures / "brown", config)
    assert corpus.vocab.tokens == ("<unk>", "<eos>", ".")
    assert corpus.train.tolist() == [0, 0, 0, 2, 1, 0, 0, 2, 1]


def test_lm_split_larger_than_corpus_is_rejected(fixtures):
    with pytest.raises(DataError, match="leaves no test words"):
        load_brown_lm(fixtures / "brown", BrownLMConfig(train_words=20, valid_words=10))


def test_missing_brown_path_says_how_to_get_it(tmp_path):
    with pytest.raises(DataNotFoundError, match="nltk.downloader brown"):
        read_brown(tmp_path / "brown")


def test_brown_not_found_anywhere_says_how_to_get_it(isolated_env):
    with pytest.raises(DataNotFoundError, match="RNNLAB_DATA_DIR"):
        read_brown()


def test_missing_cats_file_is_reported(fixtures, tmp_path):
    shutil.copytree(fixtures / "brown", tmp_path / "brown")
    (tmp_path / "brown" / "cats.txt").unlink()
    with pytest.raises(DataError, match="cats.txt"):
        read_brown(tmp_path / "brown")


def test_untagged_token_is_reported_with_file_and_line(fixtures, tmp_path):
    shutil.copytree(fixtures / "brown", tmp_path / "brown")
    (tmp_path / "brown" / "cb01").write_text("\tThe/at editor ./.\n")
    with pytest.raises(DataError, match=r"brown/cb01, line 1: token 'editor'"):
        read_brown(tmp_path / "brown")


def test_load_dataset_knows_brown_genre(fixtures, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(fixtures / "nowhere"))
    monkeypatch.setenv("RNNLAB_CACHE", str(fixtures))  # cache_dir()/brown is the fixture
    assert load_dataset("brown-genre", test_fraction=0.25).num_classes == 3


@pytest.mark.slow
def test_real_brown_has_500_texts_15_genres_and_1161192_words(brown_archive_path):
    corpus = read_brown(brown_archive_path)
    assert len(corpus.documents) == 500
    assert corpus.genres == BROWN_GENRES
    assert len(corpus.words()) == 1_161_192
    assert len(corpus.tagged_sentences()) == 57_340
    assert len(corpus.tags()) == 472
    assert len(read_brown(brown_archive_path, simplify_tags=True).tags()) == 174


@pytest.mark.slow
def test_real_brown_lm_split_follows_bengio_et_al(brown_archive_path):
    corpus = load_brown_lm(brown_archive_path)
    eos = corpus.vocab.token_to_id("<eos>")
    words = [int((split != eos).sum()) for split in (corpus.train, corpus.valid, corpus.test)]
    assert words == [800_000, 200_000, 161_192]
    # train words seen > 3 times (14,113) + <unk> + <eos>; Bengio et al. report 16,383
    assert len(corpus.vocab) == 14_115


@pytest.mark.slow
def test_real_brown_genre_view_covers_all_500_documents(brown_archive_path):
    data = load_brown_genres(brown_archive_path)
    assert (len(data.train), len(data.valid), len(data.test)) == (348, 52, 100)
    assert data.test.counts(15).min() >= 1


def test_tagging_view_splits_by_document_and_maps_tags_to_ids(fixtures):
    data = load_brown_tagging(fixtures / "brown", valid_fraction=0.0, test_fraction=0.25)
    # test holds one of the two news texts; no sentence is lost or duplicated
    assert len(data.train) + len(data.test) == 6 and len(data.valid) == 0
    assert "np" in data.tag_names and "np-tl" not in data.tag_names
    sentence = data.train[0]
    assert [data.tag_names[i] for i in data.tag_ids(sentence)] == [t for _, t in sentence]


@pytest.mark.slow
def test_real_brown_tagging_view_keeps_every_sentence(brown_archive_path):
    data = load_brown_tagging(brown_archive_path)
    assert len(data.train) + len(data.valid) + len(data.test) == 57_340
    assert len(data.tag_names) == 174
