"""Word vectors into a classifier's embedding: rows at the right ids, the rest untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.data.vocab import Vocab
from rnnlab.embeddings import (
    VectorsFileError,
    WordVectors,
    align_vectors,
    load_word_vectors,
    token_counts,
)

# A toy vocabulary and vectors that order the words differently and each lack some words.
VOCAB = Vocab(("<pad>", "<unk>", "the", "film", "zork", "good"))
VECTORS = WordVectors(("good", "the", "absent", "film"),
                      np.arange(12, dtype=np.float32).reshape(4, 3))


def test_each_vector_lands_on_its_words_id_and_missing_words_keep_their_init():
    init = torch.full((6, 3), -1.0)
    weight = init.clone()
    align_vectors(VECTORS, VOCAB, weight)
    # hand-made oracle: id of each word -> its row in VECTORS
    expected = init.clone()
    expected[2] = torch.tensor([3.0, 4.0, 5.0])   # the
    expected[3] = torch.tensor([9.0, 10.0, 11.0])  # film
    expected[5] = torch.tensor([0.0, 1.0, 2.0])    # good
    assert torch.equal(weight, expected)  # <pad>, <unk> and zork keep -1


def test_coverage_counts_vocabulary_words_and_training_tokens():
    ids = np.array([[0, 0, 2, 3], [2, 4, 1, 5]])  # padding, the×2, film, zork, <unk>, good
    covered = align_vectors(VECTORS, VOCAB, torch.zeros(6, 3), token_counts(ids, 6))
    assert (covered.words_covered, covered.words) == (3, 4)  # the, film, good of 4 words
    assert (covered.tokens_covered, covered.tokens) == (4, 6)  # <unk> counts, padding not
    assert covered.word_share == 0.75 and covered.token_share == pytest.approx(4 / 6)


def test_a_special_token_never_takes_a_vector_even_if_the_file_has_one():
    vectors = WordVectors(("<unk>", "the"), np.ones((2, 3), np.float32))
    weight = torch.zeros(6, 3)
    align_vectors(vectors, VOCAB, weight)
    assert weight[1].abs().sum() == 0 and weight[2].sum() == 3


def test_another_dimension_is_an_error_naming_the_file_and_the_fix(tmp_path):
    VECTORS.save(tmp_path / "w2v")
    vectors = load_word_vectors(tmp_path / "w2v")
    with pytest.raises(ValueError, match=r"w2v.*dimension 3.*embedding has 5.*"
                                         r"embedding_size = 3.*--dim 5"):
        align_vectors(vectors, VOCAB, torch.zeros(6, 5))


def test_save_and_load_round_trip_the_vectors_exactly(tmp_path):
    VECTORS.save(tmp_path / "w2v")
    loaded = load_word_vectors(tmp_path / "w2v")
    assert loaded.words == VECTORS.words and np.array_equal(loaded.vectors, VECTORS.vectors)
    assert sorted(p.name for p in (tmp_path / "w2v").iterdir()) == ["vectors.npy", "words.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["w2v"]  # no staging folder left behind


def test_saving_never_overwrites_an_existing_folder(tmp_path):
    (tmp_path / "w2v").mkdir()
    (tmp_path / "w2v" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="already exists"):
        VECTORS.save(tmp_path / "w2v")
    assert (tmp_path / "w2v" / "keep.txt").read_text() == "mine"


def test_the_word2vec_text_format_is_read(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("2 3\nthe 1 2 3\nfilm 4 5 6\n", encoding="utf-8")
    vectors = load_word_vectors(path)
    assert vectors.words == ("the", "film") and vectors.vectors[1].tolist() == [4, 5, 6]


@pytest.mark.parametrize("content, match", [
    ("this is just prose\nnothing numeric here\n", r"line 1: 'is' is not a number"),
    ("the 1 2 3\nfilm 4 5\n", r"line 2: 2 numbers, but line 1 of the vectors has 3"),
    ("", "holds no vectors"),
])
def test_a_file_that_is_not_vectors_is_an_error_naming_the_file_and_the_fix(
        tmp_path, content, match):
    path = tmp_path / "notes.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(VectorsFileError, match=match) as error:
        load_word_vectors(path)
    assert str(path) in str(error.value) or "notes.txt" in str(error.value)
    assert "rnnlab embed word2vec" in str(error.value) or "line 2" in str(error.value)


def test_a_missing_path_or_a_foreign_folder_is_an_error_with_the_fix(tmp_path):
    with pytest.raises(VectorsFileError, match=r"nowhere.*do not exist.*rnnlab embed word2vec"):
        load_word_vectors(tmp_path / "nowhere")
    (tmp_path / "other").mkdir()
    with pytest.raises(VectorsFileError, match=r"other.*not a word-vectors directory"):
        load_word_vectors(tmp_path / "other")
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(VectorsFileError, match=r"model.bin.*not UTF-8"):
        load_word_vectors(binary)
