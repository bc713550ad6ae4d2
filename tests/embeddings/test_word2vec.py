"""Word2Vec with gensim: seeded and reproducible, trained on the training texts only."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gensim")

from rnnlab.cli import main
from rnnlab.embeddings import Word2VecConfig, load_word_vectors, train_word2vec

CORPUS = [["the", "film", "was", "good"], ["the", "film", "was", "bad"],
          ["a", "good", "film"], ["a", "bad", "plot"]] * 20
TINY = Word2VecConfig(dim=5, min_count=1, epochs=2)


def test_the_same_seed_gives_the_same_vectors_and_another_seed_others():
    first, again = train_word2vec(CORPUS, TINY), train_word2vec(CORPUS, TINY)
    other = train_word2vec(CORPUS, Word2VecConfig(dim=5, min_count=1, epochs=2, seed=1))
    assert np.array_equal(first.vectors, again.vectors)
    assert not np.array_equal(first.vectors, other.vectors)


def test_words_are_ranked_by_count_then_by_the_word_as_a_vocabulary_ranks_them():
    vectors = train_word2vec(CORPUS, TINY)
    # counts: film 60; a, bad, good, the, was 40 each (ties by the word); plot 20
    assert vectors.words == ("film", "a", "bad", "good", "the", "was", "plot")
    counts = dict(zip(vectors.words, vectors.counts, strict=True))
    assert counts["film"] == 60 and counts["plot"] == 20
    assert list(vectors.counts) == sorted(vectors.counts, reverse=True)


def test_cbow_and_skipgram_give_different_vectors_of_the_asked_size():
    skipgram = train_word2vec(CORPUS, TINY)
    cbow = train_word2vec(CORPUS, Word2VecConfig(dim=5, min_count=1, epochs=2,
                                                 algorithm="cbow"))
    assert skipgram.vectors.shape == cbow.vectors.shape == (len(skipgram.words), 5)
    assert not np.array_equal(skipgram.vectors, cbow.vectors)


@pytest.mark.parametrize("field, value", [("algorithm", "glove"), ("dim", 0),
                                          ("window", True), ("sample", 1.0)])
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        Word2VecConfig(**{field: value})


def _write_split_folder(root):
    for split, words in (("train", "great awful movie plot"), ("test", "zyzzyva")):
        for label in ("neg", "pos"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for index in range(6):
                (folder / f"{index}.txt").write_text(f"{words} {label} {words}",
                                                     encoding="utf-8")


def test_cli_trains_on_the_training_texts_only_and_reports_coverage(tmp_path, capsys):
    _write_split_folder(tmp_path / "reviews")
    out = tmp_path / "w2v"
    code = main(["embed", "word2vec", "--data", str(tmp_path / "reviews"), "--out", str(out),
                 "--dim", "4", "--min-count", "1", "--epochs", "1"])
    assert code == 0
    vectors = load_word_vectors(out)
    assert vectors.dim == 4 and "great" in vectors.words
    assert "zyzzyva" not in vectors.words  # a test-split word is never read
    printed = capsys.readouterr().out
    assert "coverage of a" in printed and "training tokens (100.0 %)" in printed


def test_cli_refuses_an_existing_out_folder_before_training(tmp_path, capsys):
    (tmp_path / "w2v").mkdir()
    (tmp_path / "w2v" / "x").write_text("")
    code = main(["embed", "word2vec", "--data", "imdb-short", "--out", str(tmp_path / "w2v")])
    assert code == 2
    assert "already exists" in capsys.readouterr().err
