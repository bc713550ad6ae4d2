"""The texts the next-word model pretrains on: validation is held out of the training texts,
and no test text is ever among either."""

from __future__ import annotations

import pytest

from rnnlab.data import DataError, load_dataset, read_brown, tokenize_all
from rnnlab.data.brown import find_brown
from rnnlab.data.nextword_sources import NextWordDataConfig, load_nextword_texts, resolved


def test_imdb_short_trains_on_training_reviews_and_validates_on_their_held_out_part():
    texts = load_nextword_texts(NextWordDataConfig(data="imdb-short"))
    dataset = load_dataset("imdb-short")
    assert texts.train == tokenize_all(dataset.train.texts)
    assert texts.valid == tokenize_all(dataset.valid.texts)
    test_reviews = {tuple(tokens) for tokens in tokenize_all(dataset.test.texts)}
    seen = {tuple(tokens) for tokens in texts.train + texts.valid}
    assert len(seen & test_reviews) < 0.01 * len(test_reviews)  # only IMDB's own duplicates
    assert not set(dataset.valid.ids) & set(dataset.test.ids)
    assert all(review_id.startswith("train/") for review_id in dataset.valid.ids)


def test_a_text_file_is_split_by_lines_into_disjoint_seeded_parts(tmp_path):
    path = tmp_path / "notes.txt"
    lines = [f"line number {i} here" for i in range(20)]
    path.write_text("\n".join(lines[:10]) + "\n\n  \n" + "\n".join(lines[10:]) + "\n")
    config = NextWordDataConfig(data=str(path), valid_fraction=0.25, split_seed=1)
    texts = load_nextword_texts(config)
    assert len(texts.train) == 15 and len(texts.valid) == 5  # blank lines are no texts
    assert sorted(map(tuple, texts.train + texts.valid)) == sorted(
        map(tuple, tokenize_all(lines)))
    assert load_nextword_texts(config).valid == texts.valid  # seeded
    other = load_nextword_texts(NextWordDataConfig(data=str(path), valid_fraction=0.25,
                                                   split_seed=2))
    assert other.valid != texts.valid
    capped = load_nextword_texts(NextWordDataConfig(data=str(path), max_texts=4))
    assert len(capped.train) == 4


def test_a_file_too_small_to_hold_out_a_text_says_how_to_fix_it(tmp_path):
    (tmp_path / "one.txt").write_text("a single line\n")
    with pytest.raises(DataError, match="gives no valid text with a token: give more text"):
        load_nextword_texts(NextWordDataConfig(data=str(tmp_path / "one.txt")))
    with pytest.raises(DataError, match="does not exist; pass imdb-short, imdb, brown"):
        load_nextword_texts(NextWordDataConfig(data=str(tmp_path / "missing.txt")))


def test_paths_are_made_absolute_and_names_stay_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolved(NextWordDataConfig(data="notes.txt")).data == str(tmp_path / "notes.txt")
    assert resolved(NextWordDataConfig(data="brown")).data == "brown"


def test_bad_settings_name_the_field():
    with pytest.raises(ValueError, match="vocab_size must be >= 5"):
        NextWordDataConfig(vocab_size=4)
    with pytest.raises(ValueError, match=r"unknown NextWordDataConfig key\(s\)"):
        NextWordDataConfig.from_dict({"data": "imdb", "lowercase": True})


def _brown_available() -> bool:
    try:
        find_brown()
    except DataError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _brown_available(), reason="needs the Brown corpus")
def test_brown_uses_the_lm_split_and_never_its_test_part():
    texts = load_nextword_texts(NextWordDataConfig(data="brown"))
    train_words = sum(map(len, texts.train))
    valid_words = sum(map(len, texts.valid))
    assert 800_000 <= train_words < 800_100 and 199_900 < valid_words <= 200_100
    sentences = [[w.lower() for w, _ in s] for s in read_brown().tagged_sentences()]
    assert texts.train + texts.valid == sentences[: len(texts.train) + len(texts.valid)]
