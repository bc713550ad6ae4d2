import json

import pytest

from rnnlab.data import OOV_ID, PAD_ID, DataError, Vocab, VocabConfig

# counts: the=3, cat=2, sat=2, a=1, mat=1
CORPUS = [["the", "cat", "sat"], ["the", "mat"], ["a", "cat", "sat", "the"]]


def test_fit_orders_by_count_then_token_after_pad_and_oov():
    vocab = Vocab.fit(CORPUS)
    # ties (cat/sat = 2, a/mat = 1) broken alphabetically
    assert vocab.tokens == ("<pad>", "<unk>", "the", "cat", "sat", "a", "mat")
    assert (PAD_ID, OOV_ID) == (0, 1)
    assert vocab.pad_id == PAD_ID and vocab.unk_id == OOV_ID


def test_max_size_counts_pad_and_oov():
    vocab = Vocab.fit(CORPUS, VocabConfig(max_size=4))
    assert len(vocab) == 4
    assert vocab.tokens == ("<pad>", "<unk>", "the", "cat")


def test_min_count_drops_rare_words():
    assert Vocab.fit(CORPUS, VocabConfig(min_count=2)).tokens[2:] == ("the", "cat", "sat")


def test_fit_does_not_depend_on_input_order():
    assert Vocab.fit(CORPUS).tokens == Vocab.fit(list(reversed(CORPUS))).tokens


def test_encode_maps_unknown_tokens_to_oov_and_decode_skips_pad():
    vocab = Vocab.fit(CORPUS)
    assert vocab.encode(["the", "dog", "sat"]) == [2, OOV_ID, 4]
    assert vocab.decode([0, 0, 2, 1]) == ["the", "<unk>"]
    assert vocab.decode([0, 2], skip_pad=False) == ["<pad>", "the"]


def test_save_and_load_round_trip(tmp_path):
    vocab = Vocab.fit([*CORPUS, ["naïve", "<br>"]])
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = Vocab.load(path)
    assert loaded.tokens == vocab.tokens
    assert loaded.encode(["naïve", "zzz"]) == vocab.encode(["naïve", "zzz"])
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == "rnnlab.vocab/1"


def test_load_rejects_other_json_with_clear_error(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"tokens": ["a"]}')
    with pytest.raises(DataError, match="format"):
        Vocab.load(path)


def test_load_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        Vocab.load(tmp_path / "nope.json")


@pytest.mark.parametrize("config", [VocabConfig(max_size=1), VocabConfig(min_count=0)])
def test_invalid_config_is_rejected(config):
    with pytest.raises(DataError, match="max_size|min_count"):
        Vocab.fit(CORPUS, config)


def test_duplicate_tokens_are_rejected():
    with pytest.raises(DataError, match="unique"):
        Vocab(("<pad>", "<unk>", "a", "a"))


def test_lm_style_vocab_without_pad():
    vocab = Vocab(("<unk>", "<eos>", "a"), pad_token=None)
    assert vocab.pad_id is None
    assert vocab.encode(["a", "b"]) == [2, 0]
