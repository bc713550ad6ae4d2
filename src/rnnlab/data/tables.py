"""Labelled examples from table files: .csv/.tsv (a header row) or .jsonl (one JSON object per
line), each optionally gzip-compressed (.csv.gz, .tsv.gz, .jsonl.gz).

The rules; a file that breaks one is refused with a DataError naming the file and the
physical line (line 1 is the first line of the file, blank lines count but are skipped):

- Records are one per line. A quoted CSV field may hold the delimiter (``"a, b"``) and
  doubled quotes (``"a ""quoted"" word"``) but no line break: a quoted field running over several
  lines is almost always a stray quote that swallowed the rows after it (60 rows read as 55).
  Replace line breaks in texts by spaces, or use JSONL, which holds any text. A file whose
  texts really hold line breaks is read with ``multiline=True`` (``--csv-multiline``): then
  a quoted field may span lines, a record's line is the one it starts on, and a stray quote
  is caught only where it breaks the CSV syntax or the field count.
- CSV/TSV: the first non-blank line is the header; its names are distinct; every row has as
  many fields as the header; a field holds at most ``FIELD_SIZE_LIMIT`` characters.
- A text is a non-empty string (not only whitespace): an empty text gives a model nothing.
- CSV/TSV labels are strings, stripped of surrounding spaces. JSONL labels are compared as
  JSON values: strings (stripped), numbers (an integral float equals the integer, so ``1.0``
  is the class "1") or booleans (the classes "false" and "true"). A file uses one of these
  types for all its labels; one mixing them is refused, since ``1``, ``"1"`` and ``true``
  would otherwise be three classes. null, lists, objects, NaN and Infinity are refused.
- Messages quote at most ``EXCERPT_CHARS`` characters of the file.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import math
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

from rnnlab.data.errors import DataError
from rnnlab.data.files import binary_kind, decode_bytes, refuse_binary

# One example: (text, label name, source id)
Example = tuple[str, str, str]
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")
# csv's default (131,072) refuses real texts such as a 200,000-character review; a field past
# this is a file to split, not a text to train on (and the limit bounds the parser's memory)
FIELD_SIZE_LIMIT = 32 * 1024 * 1024
EXCERPT_CHARS = 80  # characters of file content a message may quote


def _clip(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."


def _physical_lines(content: str) -> list[str]:
    """Lines with their ends, split at \\n, \\r\\n and \\r only (as ``open(newline="")``).

    ``str.splitlines`` also splits at \\f, U+2028 and others, which may sit inside a text.
    """
    lines, pending = [], ""
    for piece in content.splitlines(keepends=True):
        pending += piece
        if pending.endswith(("\n", "\r")):
            lines.append(pending)
            pending = ""
    if pending:
        lines.append(pending)
    return lines


def _table_text(path: Path, argument: str, gzipped: bool) -> str:
    source = f"{argument}={str(path)!r}"
    data = path.read_bytes()
    if gzipped:
        if not data.startswith(b"\x1f\x8b"):
            raise DataError(f"{source} is named .gz but is not gzip data; rename it to {path.stem}")
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(
                f"{source} is not a readable gzip file ({error}); re-compress it or pass the "
                f"decompressed file"
            ) from error
    if not data.strip():
        raise DataError(f"{source} is empty; expected text data.")
    found = binary_kind(data)
    if found is not None and found[0] == "gzip":
        raise DataError(
            f"{source} looks like gzip data, not UTF-8 text: decompress it or name it "
            f"{path.name}.gz"
        )
    refuse_binary(data, source)
    return decode_bytes(data, str(path))


@contextlib.contextmanager
def _field_size_limit(limit: int) -> Iterator[None]:
    # csv keeps the limit in module state; set it only while this reader runs
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _csv_error(source: str, lines: list[str], start: int, end: int, error: csv.Error) -> str:
    where, first = f"{source}, line {start}", _clip(lines[start - 1].rstrip("\r\n"))
    reason = str(error)
    if reason.startswith("field larger than field limit"):
        fix = "split the text over several rows or use a .jsonl file"
        if end > start:
            fix = f"it runs on to line {end}, so a quote here is probably never closed"
        return f"{where}: a field is longer than {FIELD_SIZE_LIMIT:,} characters ({first}); {fix}"
    if reason == "unexpected end of data":
        return (
            f"{where}: a quoted field starts here and is never closed, the file ends inside "
            f'it ({first!r}); close the quote, or double a quote inside a quoted field ("")'
        )
    if "expected after '\"'" in reason:
        ends = f" on line {end}" if end > start else ""
        return (
            f"{where}: a quoted field starts here and has text after its closing quote{ends} "
            f'({first!r}); quote the whole field and double the quotes in it ("5"" screen"), '
            f"or remove the stray quote"
        )
    return f"{source}, line {end}: not valid CSV ({reason}): {first!r}"


def _csv_records(content: str, source: str, delimiter: str,
                 multiline: bool = False) -> list[tuple[int, list[str]]]:
    """(physical line, fields) of every non-blank record; refuses records spanning lines
    unless ``multiline``."""
    lines = _physical_lines(content)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    records = []
    with _field_size_limit(FIELD_SIZE_LIMIT):
        while True:
            start = reader.line_num + 1  # line_num is the last line the record used
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                raise DataError(_csv_error(source, lines, start, reader.line_num, error)) from error
            if reader.line_num > start and not multiline:
                spanning = next(field for field in fields if "\n" in field or "\r" in field)
                raise DataError(
                    f"{source}, line {start}: a quoted field starts here and runs over "
                    f"{reader.line_num - start + 1} lines, to line {reader.line_num} "
                    f"({_clip(spanning)!r}); records must be one per line, so this is probably "
                    f"a stray or unclosed quote that merged the rows after it. Fix the quote; "
                    f"if the texts really hold line breaks, pass --csv-multiline "
                    f"(multiline=True), replace them by spaces, or use .jsonl"
                )
            if fields and (len(fields) > 1 or fields[0].strip()):
                records.append((start, fields))
    return records


def _csv_examples(content: str, path: Path, argument: str, text_field: str, label_field: str,
                  delimiter: str, multiline: bool = False) -> list[Example]:  # fmt: skip
    source = str(path)
    records = _csv_records(content, source, delimiter, multiline)
    if len(records) < 2:
        raise DataError(f"{argument}={source!r} has a header but no rows")
    header_line, header = records[0]
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(
                f"{source}, line {header_line}: the header names column {name!r} twice "
                f"({_clip(delimiter.join(header))!r}); rename or remove one copy"
            )
        seen.add(name)
    _require_fields(header, path, text_field, label_field)
    text_index, label_index = header.index(text_field), header.index(label_field)
    examples = []
    for line, fields in records[1:]:
        if len(fields) != len(header):
            count = f"{len(fields)} field{'s' if len(fields) != 1 else ''}"
            raise DataError(
                f"{source}, line {line}: {count}, but the header (line {header_line}) has "
                f"{len(header)} ({_clip(delimiter.join(fields))!r}); give every row each "
                f'field, and quote a text that holds the delimiter ("a{delimiter} b")'
            )
        text, label = fields[text_index], fields[label_index].strip()
        _require_text(text, source, line, text_field)
        if not label:
            raise DataError(f"{source}, line {line}: empty label_field {label_field!r}; give "
                            f"every row a label")  # fmt: skip
        examples.append((text, label, f"{path.name}:{line}"))
    return examples


def _require_fields(fields: list[str], path: Path, text_field: str, label_field: str) -> None:
    for field, field_argument in ((text_field, "text_field"), (label_field, "label_field")):
        if field not in fields:
            raise DataError(
                f"{field_argument}={field!r} is not a field of {path.name}; fields found: "
                f"{_clip(str(fields))}. Pass {field_argument}= with one of them (the first "
                f"line of a .csv/.tsv is its header)."
            )


def _require_text(text: object, source: str, line: int, text_field: str) -> None:
    if not isinstance(text, str):
        raise DataError(f"{source}, line {line}: text_field {text_field!r} is "
                        f"{_clip(json.dumps(text))}; expected a JSON string")  # fmt: skip
    if not text.strip():
        raise DataError(f"{source}, line {line}: empty text_field {text_field!r}; give the row "
                        f"a text or remove it")  # fmt: skip


def _json_label(value: object, where: str, label_field: str) -> tuple[str, str]:
    """(type, class name) of a JSON label: ("number", "1") for 1 and 1.0; see the module rules."""
    shown = _clip(json.dumps(value))
    if value is None:
        raise DataError(f"{where}: label_field {label_field!r} is null; give every row a label")
    if isinstance(value, bool):
        return "boolean", "true" if value else "false"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise DataError(f"{where}: label {shown} is not finite; use a string or a number")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return "number", str(value)
    if isinstance(value, str):
        if not value.strip():
            raise DataError(f"{where}: empty label_field {label_field!r}; give every row a label")
        return "string", value.strip()
    kind = "list" if isinstance(value, list) else "object"
    raise DataError(f"{where}: label {shown} is a {kind}; labels are strings, numbers or booleans")


def _jsonl_examples(content: str, path: Path, text_field: str, label_field: str) -> list[Example]:
    source = str(path)
    examples: list[Example] = []
    first_type: tuple[str, int] | None = None  # the label type of the file, and where it was seen
    for line_number, raw in enumerate(_physical_lines(content), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        where = f"{source}, line {line_number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            near = _clip(line[max(0, error.pos - 20) :])
            raise DataError(f"{where}: not valid JSON ({error.msg} at column {error.colno}, "
                            f"near {near!r})") from error  # fmt: skip
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, got {_clip(json.dumps(row))}")
        if not examples:
            _require_fields(list(row), path, text_field, label_field)
        for field in (text_field, label_field):
            if field not in row:
                raise DataError(f"{where}: no {field!r} field (fields: {_clip(str(list(row)))}); "
                                f"give every row a {field!r}")  # fmt: skip
        _require_text(row[text_field], source, line_number, text_field)
        label_type, label = _json_label(row[label_field], where, label_field)
        if first_type is None:
            first_type = (label_type, line_number)
        elif label_type != first_type[0]:
            raise DataError(
                f"{where}: label {_clip(json.dumps(row[label_field]))} is a {label_type}, but the "
                f"labels before it are {first_type[0]}s (the first on line {first_type[1]}); "
                f'use one type for every label, since 1, "1" and true would be three classes'
            )
        examples.append((row[text_field], label, f"{path.name}:{line_number}"))
    return examples


def read_table(
    path: str | os.PathLike[str],
    text_field: str = "text",
    label_field: str = "label",
    argument: str = "path",
    multiline: bool = False,
) -> list[Example]:
    """Examples from a .csv/.tsv/.jsonl file (or its .gz), by the rules in the module docstring;
    ``multiline`` lets quoted CSV/TSV fields span lines (JSONL texts hold ``\n`` anyway)."""
    path = Path(path)
    gzipped = path.name.lower().endswith(".gz")
    suffix = Path(path.stem).suffix.lower() if gzipped else path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(
            f"{argument}={str(path)!r} has suffix {suffix + '.gz' if gzipped else suffix!r}; "
            f"allowed: {list(TABLE_SUFFIXES)}, each also gzipped (.csv.gz), or a folder"
        )
    content = _table_text(path, argument, gzipped)
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl_examples(content, path, text_field, label_field)
    delimiter = "\t" if suffix == ".tsv" else ","
    return _csv_examples(content, path, argument, text_field, label_field, delimiter, multiline)
