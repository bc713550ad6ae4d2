import numpy as np

from rnnlab.data import (
    EncodingConfig,
    TextDataset,
    TextSplit,
    VocabConfig,
    encode_dataset,
    load_dataset,
)


def _split(texts, labels):
    return TextSplit(tuple(texts), np.array(labels), tuple(f"id{i}" for i in range(len(texts))))


DATA = TextDataset(
    "tiny",
    train=_split(["good film", "bad bad film", "good"], [1, 0, 1]),
    valid=_split(["good plot"], [1]),
    test=_split(["bad acting and plot", "film"], [0, 1]),
    label_names=("neg", "pos"),
)


def test_vocab_is_fitted_on_train_only():
    prepared = encode_dataset(DATA, vocab_config=VocabConfig(), encoding=EncodingConfig(maxlen=3))
    # train counts: bad 2, film 2, good 2 -> alphabetical; "plot"/"acting" never seen
    assert prepared.vocab.tokens == ("<pad>", "<unk>", "bad", "film", "good")
    assert prepared.valid.ids.tolist() == [[0, 4, 1]]
    assert prepared.train.lengths.tolist() == [2, 3, 1]


def test_drop_rule_applies_to_every_split_and_keeps_labels_aligned():
    encoding = EncodingConfig(maxlen=2, overlong="drop")
    prepared = encode_dataset(DATA, vocab_config=VocabConfig(), encoding=encoding)
    assert prepared.train.source_ids == ("id0", "id2")
    assert prepared.train.labels.tolist() == [1, 1]
    assert prepared.test.source_ids == ("id1",) and prepared.test.labels.tolist() == [1]


def test_given_vocab_is_reused_unchanged():
    first = encode_dataset(DATA)
    again = encode_dataset(DATA, vocab=first.vocab)
    assert again.vocab is first.vocab


def test_seed_002_defaults_on_imdb_short():
    prepared = encode_dataset(load_dataset("imdb-short"))
    assert len(prepared.vocab) == 5000
    assert prepared.train.ids.shape == (2069, 100)
    assert prepared.train.ids[:, 0].tolist().count(0) > 0  # pre-padding: zeros on the left
    assert prepared.encoding.padding == "pre"
