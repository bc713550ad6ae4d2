"""Reading text files: decode UTF-8, replace bad bytes with a warning that names the file."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from rnnlab.data.errors import DataError, DataWarning


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
    """A whole file as text (see ``decode_bytes``); DataError if it is empty."""
    data = Path(path).read_bytes()
    if not data.strip():
        raise DataError(f"{argument}={str(path)!r} is empty; expected text data.")
    return decode_bytes(data, str(path))
