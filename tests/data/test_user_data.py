import shutil

import numpy as np
import pytest

from rnnlab.data import DataError, DataNotFoundError, DataWarning, load_dataset, load_user_data


def test_class_folder_gives_one_class_per_sub_folder(fixtures):
    data = load_user_data(fixtures / "classes", valid_fraction=0.0, test_fraction=0.0)
    assert data.label_names == ("politics", "science", "sports")
    assert data.train.ids[:2] == ("politics/a.txt", "politics/b.txt")
    assert data.train.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert data.train.texts[-1] == "A late goal won it."


def test_csv_with_default_fields_is_binary(fixtures):
    data = load_user_data(fixtures / "reviews.csv", valid_fraction=0.0, test_fraction=0.0)
    assert data.label_names == ("neg", "pos") and data.num_classes == 2
    assert data.train.texts[0] == "Great film, loved it"
    assert data.train.ids[0] == "reviews.csv:2"  # line 2: the first row after the header


def test_jsonl_with_named_fields_is_multi_class(fixtures):
    data = load_user_data(
        fixtures / "reviews.jsonl", text_field="body", label_field="sentiment",
        valid_fraction=0.0, test_fraction=0.0,
    )  # fmt: skip
    assert data.label_names == ("mixed", "neg", "pos")
    assert data.train.labels.tolist() == [2, 1, 0]
    assert data.train.ids[-1] == "reviews.jsonl:4"  # blank line 3 skipped


def test_numeric_labels_are_ordered_numerically(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(f'{{"text": "t{i}", "label": {i % 3 * 5}}}\n' for i in range(6)))
    data = load_user_data(path, valid_fraction=0.0, test_fraction=0.0)
    assert data.label_names == ("0", "5", "10")


def test_tsv_is_read_with_tabs(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("label\ttext\nyes\ta, b\nno\tc\n")
    data = load_user_data(path, valid_fraction=0.0, test_fraction=0.0)
    assert data.train.texts == ("a, b", "c")


def test_missing_splits_are_seeded_stratified_holdouts(tmp_path):
    path = tmp_path / "d.csv"
    rows = [f"text {i},{'ab'[i % 2]}" for i in range(100)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    data = load_user_data(path, valid_fraction=0.1, test_fraction=0.2, seed=5)
    assert (len(data.train), len(data.valid), len(data.test)) == (70, 10, 20)
    assert np.bincount(data.test.labels).tolist() == [10, 10]
    assert np.bincount(data.valid.labels).tolist() == [5, 5]
    assert set(data.train.ids).isdisjoint(data.valid.ids + data.test.ids)
    again = load_user_data(path, valid_fraction=0.1, test_fraction=0.2, seed=5)
    assert again.test.ids == data.test.ids
    assert load_user_data(path, seed=6).test.ids != data.test.ids


def test_separate_valid_and_test_files_are_used_as_given(fixtures, tmp_path):
    valid = tmp_path / "valid.csv"
    valid.write_text("text,label\nok,pos\n")
    data = load_user_data(fixtures / "reviews.csv", valid=valid, test=fixtures / "reviews.csv")
    assert len(data.train) == 6 and len(data.test) == 6
    assert data.valid.texts == ("ok",)


def test_folder_with_train_and_test_sub_folders(fixtures, tmp_path):
    shutil.copytree(fixtures / "classes", tmp_path / "d" / "train")
    shutil.copytree(fixtures / "classes", tmp_path / "d" / "test")
    data = load_user_data(tmp_path / "d", valid_fraction=0.0)
    assert len(data.train) == 6 and len(data.test) == 6


def test_load_dataset_dispatches_files_and_folders(fixtures):
    assert load_dataset(fixtures / "reviews.csv", test_fraction=0.0).name == "reviews"
    assert load_dataset(str(fixtures / "classes"), test_fraction=0.0).num_classes == 3


# --- bad data ---------------------------------------------------------------------------
def test_missing_path_names_argument_and_says_what_to_pass(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"path=.*nope\.csv.*does not exist.*sub-folder"):
        load_user_data(tmp_path / "nope.csv")


def test_unknown_dataset_name_lists_the_registered_names():
    with pytest.raises(DataNotFoundError, match=r"imdb-short"):
        load_dataset("imbd-short")


def test_missing_test_file_names_the_test_argument(fixtures, tmp_path):
    with pytest.raises(DataNotFoundError, match=r"test=.*does not exist"):
        load_user_data(fixtures / "reviews.csv", test=tmp_path / "test.csv")


@pytest.mark.parametrize("content", [b"", b"  \n\n"])
def test_empty_file_is_rejected(tmp_path, content):
    path = tmp_path / "d.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"path=.*d\.csv.*is empty"):
        load_user_data(path)


def test_header_only_csv_is_rejected(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\n")
    with pytest.raises(DataError, match="no rows"):
        load_user_data(path)


def test_missing_field_lists_the_fields_found(fixtures):
    with pytest.raises(DataError, match=r"text_field='review'.*fields found: \['text', 'label', "):
        load_user_data(fixtures / "reviews.csv", text_field="review")
    with pytest.raises(DataError, match=r"label_field='label'.*\['body', 'sentiment'\]"):
        load_user_data(fixtures / "reviews.jsonl", text_field="body")


def test_row_missing_a_label_names_the_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n')
    with pytest.raises(DataError, match=r"d\.jsonl, line 2"):
        load_user_data(path)


def test_invalid_json_line_is_reported(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": \n')
    with pytest.raises(DataError, match=r"line 2: not valid JSON"):
        load_user_data(path)


def test_label_seen_only_in_test_is_rejected(fixtures, tmp_path):
    test = tmp_path / "test.csv"
    test.write_text("text,label\nmeh,neutral\n")
    with pytest.raises(DataError, match=r"label 'neutral' \(test=.*never occurs in the training"):
        load_user_data(fixtures / "reviews.csv", test=test)


def test_undecodable_bytes_are_replaced_with_a_warning_naming_the_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncaf\xe9 good,pos\nbad,neg\n".encode("latin-1"))
    with pytest.warns(DataWarning, match=r"latin1\.csv.*not valid UTF-8.*replaced"):
        data = load_user_data(path, valid_fraction=0.0, test_fraction=0.0)
    assert data.train.texts[0] == "caf\ufffd good"


def test_class_folder_with_no_examples_is_rejected(fixtures, tmp_path):
    shutil.copytree(fixtures / "classes", tmp_path / "d")
    (tmp_path / "d" / "empty_class").mkdir()
    with pytest.raises(DataError, match=r"class 'empty_class' .* has no examples"):
        load_user_data(tmp_path / "d")


def test_declared_class_with_no_examples_is_rejected(fixtures):
    with pytest.raises(DataError, match=r"'neutral', a class with no examples"):
        load_user_data(fixtures / "reviews.csv", label_names=["neg", "neutral", "pos"])


def test_folder_without_class_sub_folders_is_rejected(tmp_path):
    (tmp_path / "a.txt").write_text("text")
    with pytest.raises(DataError, match="no class sub-folders"):
        load_user_data(tmp_path)


def test_unsupported_suffix_lists_the_allowed_ones(tmp_path):
    path = tmp_path / "d.xlsx"
    path.write_text("x")
    with pytest.raises(DataError, match=r"suffix '\.xlsx'; allowed"):
        load_user_data(path)


def test_bad_split_fraction_names_the_argument(fixtures):
    with pytest.raises(DataError, match=r"test_fraction must be in \[0, 1\), got 1.5"):
        load_user_data(fixtures / "reviews.csv", test_fraction=1.5)
    with pytest.raises(DataError, match="valid_fraction \\+ test_fraction must be below 1"):
        load_user_data(fixtures / "reviews.csv", valid_fraction=0.5, test_fraction=0.5)
