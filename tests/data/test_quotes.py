"""Text with quotations: detokenizing Brown's quote marks, the per-character track, splits."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from rnnlab.data.errors import DataError
from rnnlab.data.quotes import detokenize, load_quote_corpus, quote_track


def _track_from_toggles(length: int, toggles: list[int]) -> np.ndarray:
    """Independent oracle: inside from an opening quote up to (not including) its close."""
    track = np.zeros(length, dtype=np.int8)
    for opening, closing in zip(toggles[::2], toggles[1::2], strict=True):
        track[opening:closing] = 1
    return track


def test_detokenize_joins_words_and_turns_brown_quote_marks_into_straight_quotes():
    text, toggles = detokenize(["He", "said", ",", "``", "No", "!", "''", "and", "left", "."])
    assert text == 'He said, "No!" and left.'
    assert toggles == [9, 13] and text[9] == text[13] == '"'


def test_a_reopening_inside_a_quote_and_a_stray_close_are_dropped_and_the_end_closes():
    text, toggles = detokenize(["''", "a", "``", "b", "``", "c", "''", "d", "``", "e"])
    assert text == 'a "b c" d "e"'
    assert len(toggles) == 4
    np.testing.assert_array_equal(quote_track(text), _track_from_toggles(len(text), toggles))


def test_quote_track_marks_what_is_open_after_each_character():
    assert quote_track('a "bc" d').tolist() == [0, 0, 1, 1, 1, 0, 0, 0]
    assert quote_track("x “y” z").tolist() == [0, 0, 1, 1, 0, 0, 0]
    assert quote_track("").tolist() == []


def _write_paragraphs(path: Path, count: int, quoted: bool) -> Path:
    paragraphs = []
    for index in range(count):
        speech = f'"Paragraph {index} speaks," she said. ' if quoted else ""
        paragraphs.append(f"{speech}Then plain narration number {index} follows here.")
    path.write_text("\n\n".join(paragraphs), encoding="utf-8")
    return path


def test_a_users_file_splits_every_tenth_paragraph_to_valid_and_test(tmp_path):
    corpus = load_quote_corpus(_write_paragraphs(tmp_path / "book.txt", 30, quoted=True))
    assert "Paragraph 8 " in corpus.valid and "Paragraph 9 " in corpus.test
    assert "Paragraph 19 " in corpus.test and "Paragraph 9 " not in corpus.train
    for split in ("train", "valid", "test"):
        text, track = getattr(corpus, split), getattr(corpus, f"{split}_track")
        np.testing.assert_array_equal(track, quote_track(text))
    assert 0 < corpus.fraction_inside("test") < 1


def test_a_file_without_quotations_is_refused_saying_why(tmp_path):
    with pytest.raises(DataError, match="has no quotation"):
        load_quote_corpus(_write_paragraphs(tmp_path / "plain.txt", 30, quoted=False))


def test_a_missing_file_names_the_argument_and_the_choices(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither 'brown' nor a text file"):
        load_quote_corpus(tmp_path / "missing.txt")


def test_max_train_chars_must_leave_a_usable_text(tmp_path):
    path = _write_paragraphs(tmp_path / "book.txt", 30, quoted=True)
    assert len(load_quote_corpus(path, max_train_chars=200).train) == 200
    with pytest.raises(ValueError, match="max_train_chars must be an int >= 100"):
        load_quote_corpus(path, max_train_chars=5)


@pytest.mark.skipif(not os.environ.get("RNNLAB_DATA_DIR"), reason="needs the Brown corpus")
def test_brown_running_text_has_balanced_quotations_in_every_split():
    corpus = load_quote_corpus("brown")
    for split in ("train", "valid", "test"):
        text, track = getattr(corpus, split), getattr(corpus, f"{split}_track")
        assert text.count('"') % 2 == 0  # every quotation closed
        np.testing.assert_array_equal(track, quote_track(text))
        assert 0.05 < track.mean() < 0.2  # about a tenth of Brown is quoted speech
