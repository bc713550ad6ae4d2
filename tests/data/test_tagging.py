"""Tag sets of the Brown tagging view, and the user's own tagged files."""

from __future__ import annotations

import json

import pytest

from rnnlab.data.errors import DataError, DataNotFoundError
from rnnlab.data.tagged_files import read_tagged_file, read_tagged_folder
from rnnlab.data.tagging import (
    UNIVERSAL_TAGS,
    load_brown_tagging,
    load_tagging_data,
    universal_tag_map,
)


def test_universal_map_covers_the_472_brown_tags_with_the_12_universal_ones():
    table = universal_tag_map()
    assert len(table) == 472
    assert set(table.values()) == set(UNIVERSAL_TAGS)
    # rows of Petrov et al.'s en-brown.map, spot-checked by hand
    assert table["at"] == "DET" and table["np-tl"] == "NOUN" and table["dod*"] == "VERB"
    assert table["pps+bez"] == "PRT" and table["fw-nn"] == "X" and table["*"] == "ADV"


def test_universal_tags_come_from_the_original_tags(fixtures):
    data = load_brown_tagging(fixtures / "brown", tagset="universal", valid_fraction=0.0,
                              test_fraction=0.25)
    assert data.tag_names == UNIVERSAL_TAGS
    everything = {pair for s in data.train + data.test for pair in s}
    assert {("The", "DET"), ("Fulton", "NOUN"), ("didn't", "VERB"), ("not", "ADV"),
            ("It's", "PRT"), (".", ".")} <= everything


def test_the_split_is_the_same_whatever_the_tag_set(fixtures):
    words = {tagset: [[w for w, _ in s] for s in load_brown_tagging(
        fixtures / "brown", tagset=tagset, valid_fraction=0.0, test_fraction=0.25).test]
        for tagset in ("universal", "simplified", "brown")}
    assert words["universal"] == words["simplified"] == words["brown"]


def test_an_unknown_tag_set_names_the_choices(fixtures):
    with pytest.raises(DataError, match=r"tagset must be one of \['universal', 'simplified', "
                                        r"'brown'\], got 'penn'"):
        load_brown_tagging(fixtures / "brown", tagset="penn")


def test_column_files_read_sentences_split_by_blank_lines(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("The\tDET\ndog\tNOUN\n\n\nIt  PRON\n")
    assert read_tagged_file(path) == ((("The", "DET"), ("dog", "NOUN")), (("It", "PRON"),))


def test_jsonl_with_more_tokens_than_tags_names_file_line_and_fix(tmp_path):
    path = tmp_path / "train.jsonl"
    lines = [{"tokens": ["a", "b"], "tags": ["X", "Y"]}, {"tokens": ["a", "b", "c"],
                                                         "tags": ["X", "Y"]}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    with pytest.raises(DataError, match=r"train.jsonl, line 2: 3 tokens but 2 tags; give "
                                        r"exactly one tag per token"):
        read_tagged_file(path)


def test_a_column_line_without_its_tag_names_file_and_line(tmp_path):
    path = tmp_path / "valid.tsv"
    path.write_text("The\tDET\ndog\n")
    with pytest.raises(DataError, match=r"valid.tsv, line 2: expected 'word<TAB>tag', found a "
                                        r"token without a tag"):
        read_tagged_file(path)


def test_a_folder_needs_a_train_file_and_a_tagset_is_refused_for_it(tmp_path):
    with pytest.raises(DataNotFoundError, match="has no train file"):
        read_tagged_folder(tmp_path)
    (tmp_path / "train.tsv").write_text("a\tX\n")
    assert read_tagged_folder(tmp_path)["test"] == ()
    with pytest.raises(DataError, match="--tagset 'universal' applies to --data brown only"):
        load_tagging_data(str(tmp_path), tagset="universal")
    assert load_tagging_data(str(tmp_path)).tag_names == ("X",)
