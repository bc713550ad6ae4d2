"""`rnnlab train` with pretrained vectors, as a user calls it."""

from __future__ import annotations

import json

import numpy as np

from rnnlab.cli import main
from rnnlab.embeddings import WordVectors
from tests.experiments.test_runner import WORDS_BAD, WORDS_GOOD, _write_reviews

TINY = ["--embedding", "6", "--hidden", "5", "--dense", "4", "--epochs", "1", "--vocab-size",
        "20", "--maxlen", "10", "--no-progress", "--threads", "1"]


def _vectors(path, dim):
    words = (*WORDS_GOOD, *WORDS_BAD)
    return str(WordVectors(words, np.ones((len(words), dim), np.float32)).save(path))


def test_train_reads_word2vec_vectors_and_records_their_coverage(tmp_path, capsys):
    data = _write_reviews(tmp_path / "reviews.csv")
    vectors = _vectors(tmp_path / "w2v", 6)
    assert main(["train", "--data", str(data), "--arch", "SS_RST_LSTM", "--out",
                 str(tmp_path / "run"), "--embedding-vectors", vectors, "--freeze-embedding",
                 *TINY]) == 0
    assert "SS_RST_LSTM+word2vec+frozen-embedding" in capsys.readouterr().out
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["transfer"]["embedding_vectors"]["words_covered"] == 10


def test_vectors_of_another_dimension_are_refused_naming_the_file_and_the_fix(tmp_path, capsys):
    data = _write_reviews(tmp_path / "reviews.csv")
    vectors = _vectors(tmp_path / "w2v", 3)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"),
                 "--embedding-vectors", vectors, *TINY]) == 2
    error = capsys.readouterr().err
    assert vectors in error and "dimension 3" in error and "--dim 6" in error
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
