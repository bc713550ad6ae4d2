"""CSV/TSV/JSONL reading (rnnlab.data.tables): every bad file is a DataError naming the file
and the physical line, never a parser traceback and never rows silently merged or relabelled.
"""

from __future__ import annotations

import gzip
import json
import re

import pytest

from rnnlab.data import DataError, load_user_data


def _load(path):
    return load_user_data(path, valid_fraction=0.0, test_fraction=0.0)


def _write(tmp_path, name, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def _jsonl(*rows: tuple[str, str]) -> str:
    """JSONL text from (text, label) pairs written as JSON literals: ('"a"', "1.0")."""
    return "".join(f'{{"text": {text}, "label": {label}}}\n' for text, label in rows)


def _rows(count: int) -> list[str]:
    return [f"text {i},{'ab'[i % 2]}" for i in range(count)]


# --- parser limits and binary files --------------------------------------------------------
def test_field_longer_than_csv_default_limit_loads(tmp_path):
    review = "word " * 40_000  # 200,000 characters; csv's default limit is 131,072
    path = _write(tmp_path, "d.csv", f"text,label\n{review},pos\nshort,neg\n")
    data = _load(path)
    assert data.train.texts[0] == review and len(data.train) == 2


def test_50mb_line_is_a_data_error_naming_file_and_line(tmp_path):
    path = _write(tmp_path, "big.csv", b"text,label\nok,pos\n" + b"x" * 50_000_000 + b",neg\n")
    with pytest.raises(DataError, match=r"big\.csv, line 3: a field is longer than 33,554,432"):
        _load(path)


def test_field_size_limit_is_restored_after_reading(tmp_path):
    import csv

    before = csv.field_size_limit()
    _load(_write(tmp_path, "d.csv", "text,label\na,pos\n"))
    assert csv.field_size_limit() == before


def test_gzip_file_named_csv_says_it_is_gzip(tmp_path):
    path = _write(tmp_path, "d.csv", gzip.compress(b"text,label\na,pos\nb,neg\n"))
    with pytest.raises(DataError, match=r"d\.csv.*looks like gzip.*decompress it or name it d\."):
        _load(path)


@pytest.mark.parametrize("name", ["d.csv.gz", "d.jsonl.gz", "d.tsv.gz"])
def test_gzipped_tables_are_read_through_gzip(tmp_path, name):
    if ".jsonl" in name:
        content = '{"text": "a", "label": "pos"}\n{"text": "b", "label": "neg"}\n'
    else:
        content = "text,label\na,pos\nb,neg\n".replace(",", "\t" if ".tsv" in name else ",")
    data = _load(_write(tmp_path, name, gzip.compress(content.encode())))
    assert data.train.texts == ("a", "b") and data.label_names == ("neg", "pos")
    first_line = 1 if ".jsonl" in name else 2
    assert data.train.ids[0] == f"{name}:{first_line}"


def test_file_named_gz_that_is_not_gzip_is_refused(tmp_path):
    path = _write(tmp_path, "d.csv.gz", "text,label\na,pos\n")
    with pytest.raises(DataError, match=r"d\.csv\.gz.*not gzip data.*rename it to d\.csv"):
        _load(path)


# --- quotes --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "closing_row",
    ['"quoted, 10",b', 'text 10",b'],  # the runaway field ends at a later quote either way
    ids=["closed-by-next-quoted-field", "closed-by-stray-quote"],
)
def test_stray_quote_does_not_merge_rows(tmp_path, closing_row):
    rows = _rows(60)
    rows[5] = '"text 5,b'  # physical line 7: a quote that is never closed on its line
    rows[10] = closing_row
    path = _write(tmp_path, "d.csv", "text,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"d\.csv, line 7: a quoted field starts here") as error:
        _load(path)
    assert "line 12" in str(error.value)


def test_texts_with_line_breaks_are_read_when_asked_for_and_refused_otherwise(tmp_path):
    content = ('text,label\n"first line\nsecond line",pos\nplain,neg\n'
               '"three\r\nline\r\ntext",pos\n')
    path = _write(tmp_path, "d.csv", content)
    with pytest.raises(DataError, match=r"d\.csv, line 2: .*runs over 2 lines.*--csv-multiline"):
        _load(path)
    data = load_user_data(path, valid_fraction=0.0, test_fraction=0.0, csv_multiline=True)
    assert data.train.texts == ("first line\nsecond line", "plain", "three\r\nline\r\ntext")
    assert data.train.ids == ("d.csv:2", "d.csv:4", "d.csv:5")  # the line each record starts on
    assert list(data.train.labels) == [1, 0, 1]


def test_multiline_reading_still_refuses_a_quote_that_is_never_closed(tmp_path):
    rows = _rows(20)
    rows[3] = '"never closed,b'
    path = _write(tmp_path, "d.csv", "text,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"d\.csv, line 5: a quoted field starts here and is "
                                        r"never closed"):
        load_user_data(path, valid_fraction=0.0, test_fraction=0.0, csv_multiline=True)


def test_csv_multiline_must_be_a_boolean(tmp_path):
    path = _write(tmp_path, "d.csv", "text,label\na,pos\nb,neg\n")
    with pytest.raises(DataError, match="csv_multiline must be true or false, got 'yes'"):
        load_user_data(path, csv_multiline="yes")


def test_unbalanced_quote_message_quotes_at_most_80_characters(tmp_path):
    rows = _rows(1000)
    rows[1] = '"never closed,b'
    path = _write(tmp_path, "d.csv", "text,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"d\.csv, line 3: .*never closed") as error:
        _load(path)
    assert len(str(error.value)) < 600 and "text 999" not in str(error.value)


def test_line_numbers_are_physical_lines_not_record_numbers(tmp_path):
    path = _write(tmp_path, "d.csv", "text,label\n\na,pos\n\n\nb,\n")
    with pytest.raises(DataError, match=r"d\.csv, line 6: empty label_field 'label'"):
        _load(path)
    path.write_text("text,label\n\na,pos\n\n\nb,neg\n")
    assert _load(path).train.ids == ("d.csv:3", "d.csv:6")


def test_duplicated_header_column_is_refused(tmp_path):
    path = _write(tmp_path, "d.csv", "text,label,label\na,pos,neg\n")
    with pytest.raises(DataError, match=r"d\.csv, line 1: the header names column 'label' twice"):
        _load(path)


# --- JSONL labels --------------------------------------------------------------------------
def test_jsonl_integral_float_label_equals_integer(tmp_path):
    content = _jsonl(('"a"', "1"), ('"b"', "1.0"), ('"c"', "2"))
    data = _load(_write(tmp_path, "d.jsonl", content))
    assert data.label_names == ("1", "2") and data.train.labels.tolist() == [0, 0, 1]


def test_jsonl_labels_of_mixed_types_are_refused(tmp_path):
    path = _write(tmp_path, "d.jsonl", _jsonl(('"t"', "1"), ('"t"', "1.0"), ('"t"', "true")))
    expected = r"d\.jsonl, line 3: label true is a boolean, but the labels before it are numbers"
    with pytest.raises(DataError, match=expected + r".*on line 1"):
        _load(path)


def test_jsonl_boolean_labels_are_named_as_in_json(tmp_path):
    lines = ['{"text": "a", "label": true}', '{"text": "b", "label": false}']
    assert _load(_write(tmp_path, "d.jsonl", "\n".join(lines))).label_names == ("false", "true")


def test_jsonl_text_may_hold_unicode_line_separators(tmp_path):
    lines = [json.dumps({"text": "a\u2028b\x0cc", "label": "x"}, ensure_ascii=False)] * 2
    data = _load(_write(tmp_path, "d.jsonl", "\n".join(lines)))
    assert data.train.texts[0] == "a\u2028b\x0cc" and data.train.ids[1] == "d.jsonl:2"


# --- table of hostile files ----------------------------------------------------------------
# (case id, file name, content, expected): expected is a regex the DataError must match (the
# file name is checked separately) or the (texts, label names) a correct load gives.
LONG = "y" * 300
CASES = [
    ("empty", "d.csv", "", r"is empty"),
    ("blank-lines-only", "d.csv", "\n \n\n", r"is empty"),
    ("header-only", "d.csv", "text,label\n", r"has a header but no rows"),
    ("header-then-blank-lines", "d.csv", "text,label\n\n\n", r"has a header but no rows"),
    ("label-missing-on-a-line", "d.csv", "text,label\na,pos\nb\n", r"line 3: 1 field, .* 2"),
    ("extra-field", "d.csv", "text,label\na,pos\nb, c,neg\n", r"line 3: 3 fields, .*has 2"),
    ("empty-label", "d.csv", "text,label\na,pos\nb,  \n", r"line 3: empty label_field 'label'"),
    ("empty-text", "d.csv", "text,label\n,pos\nb,neg\n", r"line 2: empty text_field 'text'"),
    ("blank-text", "d.csv", "text,label\n   ,pos\nb,neg\n", r"line 2: empty text_field"),
    ("no-such-field", "d.csv", "review,label\na,pos\n", r"text_field='text' is not a field"),
    ("duplicate-column", "d.csv", "text,text,label\na,b,c\n", r"column 'text' twice"),
    ("stray-quote", "d.csv", 'text,label\n"a,pos\nb,neg\nc",pos\n', r"line 2: a quoted field"),
    ("unclosed-quote-at-end", "d.csv", 'text,label\na,pos\n"b,neg\n', r"line 3: .*never closed"),
    ("text-after-quote", "d.csv", 'text,label\n"a"b,pos\n', r"line 2: .*after its closing quote"),
    ("gzip-as-csv", "d.csv", gzip.compress(b"text,label\na,b\n"), r"looks like gzip"),
    ("zip-as-csv", "d.csv", b"PK\x03\x04" + bytes(40), r"looks like zip"),
    ("nul-bytes", "d.csv", b"text,label\na\x00,pos\n", r"binary"),
    ("utf16", "d.csv", "text,label\na,pos\n".encode("utf-16"), r"UTF-16.*UTF-8"),
    ("bad-gzip", "d.csv.gz", b"\x1f\x8b\x08\x00broken", r"not a readable gzip file"),
    ("long-line-excerpt", "d.csv", f"text,label\n{LONG},a,b\n", r"line 2: 3 fields.*\.\.\."),
    ("jsonl-empty", "d.jsonl", "\n\n", r"is empty"),
    ("jsonl-bad-json", "d.jsonl", '{"text": "a", "label": 1}\n{"text": \n', r"line 2: not valid"),
    ("jsonl-not-object", "d.jsonl", '["a", "x"]\n', r"line 1: expected a JSON object"),
    ("jsonl-label-missing", "d.jsonl", _jsonl(('"a"', "1")) + '{"text": "b"}', r"line 2: no 'lab"),
    ("jsonl-null-label", "d.jsonl", _jsonl(('"a"', "null")), r"line 1: .*label.*null"),
    ("jsonl-list-label", "d.jsonl", _jsonl(('"a"', "[1]")), r"line 1: label \[1\] is a list"),
    ("jsonl-nan-label", "d.jsonl", _jsonl(('"a"', "NaN")), r"line 1: label NaN is not finite"),
    ("jsonl-number-text", "d.jsonl", _jsonl(("5", '"x"')), r"line 1: text_field 'text' .*string"),
    ("jsonl-blank-text", "d.jsonl", _jsonl(('" "', '"x"')), r"line 1: empty text_field"),
    ("jsonl-string-and-number", "d.jsonl", _jsonl(('"a"', '"1"'), ('"b"', "1")),
     r"line 2: label 1 is a number.*strings.*line 1"),
    ("jsonl-long-line", "d.jsonl", f'{{"text": "{LONG}", "label": \n', r"line 1: not valid"),
    ("tsv-comma-in-text", "d.tsv", "text\tlabel\na, b\tpos\nc\tn\n", (("a, b", "c"), ("n", "pos"))),
    ("crlf-line-ends", "d.csv", "text,label\r\na,pos\r\nb,neg\r\n", (("a", "b"), ("neg", "pos"))),
    ("bom-header", "d.csv", "\ufefftext,label\na,pos\n", (("a",), ("pos",))),
    ("quoted-comma", "d.csv", 'text,label\n"a, ""b""",pos\n', (('a, "b"',), ("pos",))),
    ("mid-field-quote", "d.csv", 'text,label\n5" screen,pos\n', (('5" screen',), ("pos",))),
    ("jsonl-strings", "d.jsonl", _jsonl(('"a"', '" pos "')), (("a",), ("pos",))),
    ("jsonl-ints-and-floats", "d.jsonl", _jsonl(('"a"', "2"), ('"b"', "2.5")),
     (("a", "b"), ("2", "2.5"))),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_hostile_table_file_gives_clear_error_or_correct_result(tmp_path, name, content, expected):
    path = _write(tmp_path, name, content)
    if isinstance(expected, tuple):
        data = _load(path)
        assert (data.train.texts, data.label_names) == expected
        return
    with pytest.raises(DataError) as error:
        _load(path)
    message = str(error.value)
    assert re.search(expected, message), message
    assert name in message and len(message) < 600, message
    assert LONG not in message  # quoted excerpts are capped


def test_hostile_table_has_at_least_20_cases():
    assert len(CASES) >= 20
