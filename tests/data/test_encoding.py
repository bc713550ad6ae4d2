import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.data import DataError, EncodingConfig, Vocab, encode_texts, pad_sequences

SEQUENCES = [[7, 8], [1, 2, 3, 4, 5, 6, 7], []]


# Goldens from the diagram in rnnlab/data/encoding.py (maxlen=5), computed by hand.
@pytest.mark.parametrize(
    ("padding", "truncating", "expected"),
    [
        ("pre", "pre", [[0, 0, 0, 7, 8], [3, 4, 5, 6, 7], [0, 0, 0, 0, 0]]),
        ("pre", "post", [[0, 0, 0, 7, 8], [1, 2, 3, 4, 5], [0, 0, 0, 0, 0]]),
        ("post", "pre", [[7, 8, 0, 0, 0], [3, 4, 5, 6, 7], [0, 0, 0, 0, 0]]),
        ("post", "post", [[7, 8, 0, 0, 0], [1, 2, 3, 4, 5], [0, 0, 0, 0, 0]]),
    ],
)
def test_padding_and_truncating_match_golden(padding, truncating, expected):
    encoded = pad_sequences(SEQUENCES, EncodingConfig(5, padding, truncating))
    np.testing.assert_array_equal(encoded.ids, expected)
    np.testing.assert_array_equal(encoded.lengths, [2, 5, 0])
    np.testing.assert_array_equal(encoded.kept, [0, 1, 2])
    assert encoded.ids.dtype == np.int64 and encoded.lengths.dtype == np.int64


def test_drop_rule_removes_overlong_sequences_and_reports_kept_rows():
    encoded = pad_sequences(SEQUENCES, EncodingConfig(5, overlong="drop"))
    np.testing.assert_array_equal(encoded.kept, [0, 2])
    np.testing.assert_array_equal(encoded.ids, [[0, 0, 0, 7, 8], [0, 0, 0, 0, 0]])


def test_drop_rule_keeps_sequences_of_exactly_maxlen():
    encoded = pad_sequences([[1, 2, 3], [1, 2, 3, 4]], EncodingConfig(3, overlong="drop"))
    np.testing.assert_array_equal(encoded.kept, [0])


def test_maxlen_none_pads_to_longest():
    encoded = pad_sequences(SEQUENCES, EncodingConfig(None, padding="post"))
    assert encoded.ids.shape == (3, 7)
    np.testing.assert_array_equal(encoded.lengths, [2, 7, 0])


def test_custom_pad_value():
    encoded = pad_sequences([[5]], EncodingConfig(3), pad_id=9)
    np.testing.assert_array_equal(encoded.ids, [[9, 9, 5]])


@pytest.mark.parametrize(
    "kwargs",
    [{"padding": "left"}, {"truncating": "middle"}, {"overlong": "skip"}, {"maxlen": 0}],
)
def test_invalid_encoding_config_names_the_argument(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(DataError, match=name):
        EncodingConfig(**kwargs)


def test_encode_texts_tokenizes_maps_and_pads():
    vocab = Vocab.fit([["a", "good", "film"], ["a", "film"]])  # a=2, film=2, good=1
    encoded = encode_texts(["A good film!", "bad"], vocab, EncodingConfig(4))
    # ids: <pad>0 <unk>1 a2 film3 good4; "!" and "bad" are OOV
    np.testing.assert_array_equal(encoded.ids, [[2, 4, 3, 1], [0, 0, 0, 1]])
    np.testing.assert_array_equal(encoded.lengths, [4, 1])


@settings(max_examples=50, deadline=None)
@given(
    sequences=st.lists(st.lists(st.integers(1, 50), max_size=12), min_size=1, max_size=6),
    maxlen=st.integers(1, 10),
    padding=st.sampled_from(["pre", "post"]),
    truncating=st.sampled_from(["pre", "post"]),
)
def test_real_tokens_sit_where_lengths_say(sequences, maxlen, padding, truncating):
    encoded = pad_sequences(sequences, EncodingConfig(maxlen, padding, truncating))
    for row, seq in enumerate(sequences):
        n = min(len(seq), maxlen)
        assert encoded.lengths[row] == n
        real = encoded.ids[row, maxlen - n :] if padding == "pre" else encoded.ids[row, :n]
        kept = seq[len(seq) - n :] if truncating == "pre" else seq[:n]
        assert real.tolist() == kept
        assert (encoded.ids[row] != 0).sum() == n
