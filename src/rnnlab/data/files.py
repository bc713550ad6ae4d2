"""Reading text files: decode UTF-8, replace bad bytes with a warning that names the file.

A file that is not text at all (gzip, zip, UTF-16, anything holding NUL bytes) is refused with
a DataError that says what it looks like, rather than decoded into replacement characters.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from rnnlab.data.errors import DataError, DataWarning

# (leading bytes, what the file is, how to fix it)
_SIGNATURES = (
    (b"\x1f\x8b", "gzip", "decompress it (gunzip)"),
    (b"PK\x03\x04", "zip", "extract it (unzip)"),
    (b"\xfd7zXZ\x00", "xz", "decompress it (unxz)"),
    (b"BZh", "bzip2", "decompress it (bunzip2)"),
    (b"\xff\xfe", "UTF-16", "re-save it as UTF-8"),
    (b"\xfe\xff", "UTF-16", "re-save it as UTF-8"),
)
_SNIFF_BYTES = 8192  # NUL bytes this early mean a binary file, not text with a stray byte


def binary_kind(data: bytes) -> tuple[str, str] | None:
    """``(kind, fix)`` if ``data`` is not UTF-8 text (e.g. ``("gzip", "decompress it ...")``)."""
    for signature, kind, fix in _SIGNATURES:
        if data.startswith(signature) and (kind != "bzip2" or data[4:10] == b"1AY&SY"):
            return kind, fix
    if b"\x00" in data[:_SNIFF_BYTES]:
        return "binary (it holds NUL bytes)", "pass a UTF-8 text file"
    return None


def refuse_binary(data: bytes, source: str, fix_hint: str = "") -> None:
    """DataError naming ``source`` if ``data`` looks like a binary or compressed file."""
    found = binary_kind(data)
    if found is not None:
        kind, fix = found
        raise DataError(f"{source} looks like {kind} data, not UTF-8 text: {fix}{fix_hint}")


def decode_bytes(data: bytes, source: str) -> str:
    """Decode UTF-8 (a BOM is dropped); undecodable bytes become U+FFFD with a DataWarning."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        warnings.warn(
            f"{source}: bytes at offset {error.start} are not valid UTF-8 ({error.reason}); "
            f"they were replaced by U+FFFD. Re-save the file as UTF-8 to silence this.",
            DataWarning,
            stacklevel=3,
        )
        return data.decode("utf-8-sig", errors="replace")


def read_text(path: str | os.PathLike[str], argument: str = "path") -> str:
    """A whole file as text (see ``decode_bytes``); DataError if it is empty or not text."""
    data = Path(path).read_bytes()
    if not data.strip():
        raise DataError(f"{argument}={str(path)!r} is empty; expected text data.")
    refuse_binary(data, f"{argument}={str(path)!r}")
    return decode_bytes(data, str(path))
