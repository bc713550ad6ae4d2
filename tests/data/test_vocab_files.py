"""Issue 14: every error reading a vocabulary file names the file."""

from __future__ import annotations

import json

import pytest

from rnnlab.data import DataError
from rnnlab.data.vocab import Vocab


@pytest.mark.parametrize("content, reason", [
    (b"{not json", "is not valid JSON"),
    (b"\xff\xfe\x00binary", "is not UTF-8 text"),
    (b"[1, 2]", "must be a JSON object, got list"),
    (json.dumps({"format": "other/1", "tokens": []}).encode(), "format must be"),
    (json.dumps({"format": "rnnlab.vocab/1"}).encode(), "'tokens' must be a list of strings"),
    (json.dumps({"format": "rnnlab.vocab/1", "tokens": ["<pad>", "<unk>", "a"],
                 "unk_token": 3}).encode(), "'unk_token' must be a string, got 3"),
    (json.dumps({"format": "rnnlab.vocab/1", "tokens": ["a", "a"],
                 "pad_token": None}).encode(), "tokens must be unique"),
])
def test_a_bad_vocabulary_file_is_a_data_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "vocab.json"
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        Vocab.load(path)
    assert f"vocabulary path={str(path)!r}" in str(error.value)
    assert reason in str(error.value)


def test_a_directory_as_vocabulary_names_it(tmp_path):
    with pytest.raises(DataError, match="is a directory, not a vocab.json"):
        Vocab.load(tmp_path)


def test_a_saved_vocabulary_reads_back():
    vocab = Vocab.fit([["a", "b", "a"]])
    assert Vocab.from_dict(vocab.to_dict()).tokens == vocab.tokens
