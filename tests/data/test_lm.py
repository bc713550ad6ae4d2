import pytest

from rnnlab.data import DataError, DataNotFoundError, read_ptb


def test_ptb_reader_appends_eos_per_line_and_fits_vocab_on_train(fixtures):
    corpus = read_ptb(fixtures / "ptb")
    # train: "the cat sat <eos> the dog sat <unk> <eos>"; counts the=sat=<eos>=2 -> sat < the
    assert corpus.vocab.tokens == ("<unk>", "<eos>", "sat", "the", "cat", "dog")
    assert corpus.train.tolist() == [3, 4, 2, 1, 3, 5, 2, 0, 1]
    assert corpus.valid.tolist() == [3, 0, 2, 1]  # "bird" is unknown
    assert corpus.test.tolist() == [0, 4, 1]  # "a" is unknown
    assert corpus.vocab.pad_id is None


def test_ptb_files_can_be_named_one_by_one(fixtures):
    folder = fixtures / "ptb"
    corpus = read_ptb(
        train=folder / "ptb.train.txt", valid=folder / "ptb.valid.txt", test=folder / "ptb.test.txt"
    )
    assert corpus.train.tolist() == read_ptb(folder).train.tolist()


def test_ptb_missing_file_says_what_is_expected(tmp_path):
    with pytest.raises(DataNotFoundError, match="PTB-format"):
        read_ptb(train=tmp_path / "a.txt", valid=tmp_path / "b.txt", test=tmp_path / "c.txt")


def test_ptb_folder_without_split_files_is_rejected(tmp_path):
    (tmp_path / "ptb.train.txt").write_text("a b\n")
    with pytest.raises(DataError, match=r"\*valid\*\.txt"):
        read_ptb(tmp_path)


def test_ptb_empty_file_is_rejected(fixtures, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(DataError, match="is empty"):
        read_ptb(train=empty, valid=fixtures / "ptb" / "ptb.valid.txt", test=empty)
