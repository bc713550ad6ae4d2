"""Errors and warnings raised for bad data.

Every message names the argument, the value received and what to do about it, so a user
never has to read a traceback from deep inside a parser:

    DataNotFoundError: path='/data/aclImdb' does not exist. Download IMDB with
    load_imdb(download=True) or pass the folder/archive you have.
"""

from __future__ import annotations


class DataError(ValueError):
    """Data that cannot be used as given (empty file, missing field, unknown label, ...)."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data path that does not exist; the message says how to get the data."""


class DataWarning(UserWarning):
    """Data that was used after a repair (e.g. undecodable bytes replaced)."""


def require_path_exists(path: object, argument: str, how_to_get: str) -> None:
    """Raise DataNotFoundError naming ``argument`` if ``path`` does not exist."""
    from pathlib import Path

    if not Path(str(path)).exists():
        raise DataNotFoundError(f"{argument}={str(path)!r} does not exist. {how_to_get}")
