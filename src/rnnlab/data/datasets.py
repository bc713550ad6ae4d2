"""One entry point for classification data: ``load_dataset(name_or_path, ...)``.

Registered names (``dataset_names()``):

    imdb-short    the bundled short IMDB reviews (no download)       2 classes
    imdb          the full IMDB (path, $RNNLAB_DATA_DIR, cache, or download=True)
    brown-genre   Brown corpus documents by genre                    15 classes

Anything else is a path: an ``aclImdb/`` folder or an IMDB ``.tar.gz``; a folder of class
sub-folders; a ``.csv``/``.tsv``/``.jsonl`` file (see ``rnnlab.data.user_data``).
Every loader returns a ``TextDataset`` with train, valid and test splits.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rnnlab.data.brown import load_brown_genres
from rnnlab.data.errors import DataError, DataNotFoundError
from rnnlab.data.imdb import find_imdb, load_imdb
from rnnlab.data.imdb_short import load_imdb_short
from rnnlab.data.splits import TextDataset
from rnnlab.data.user_data import load_user_data

Loader = Callable[..., TextDataset]
_REGISTRY: dict[str, Loader] = {
    "imdb-short": load_imdb_short,
    "imdb": load_imdb,
    "brown-genre": load_brown_genres,
}


def register_dataset(name: str, loader: Loader) -> None:
    """Make ``load_dataset(name, **kwargs)`` call ``loader(**kwargs)``."""
    if name in _REGISTRY:
        raise DataError(f"dataset name={name!r} is already registered")
    _REGISTRY[name] = loader


def dataset_names() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def _is_imdb(path: Path) -> bool:
    if path.is_dir():
        root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
        return root.name == "aclImdb" or (root / "imdb.vocab").is_file()
    return path.name.endswith((".tar.gz", ".tgz", ".tar"))


def load_dataset(name_or_path: str | os.PathLike[str], **kwargs: Any) -> TextDataset:
    """A registered dataset by name, or the user's data by path.

    ``kwargs`` go to the loader: ``valid_fraction``/``seed`` for every source; ``valid``,
    ``test``, ``text_field``, ``label_field``, ``test_fraction``, ``label_names`` for user data;
    ``download`` for "imdb". Arguments that are None are dropped (so a CLI can pass all its
    options); an argument the chosen source does not take is a DataError listing those it does.
    """
    kwargs = {name: value for name, value in kwargs.items() if value is not None}
    key = str(name_or_path)
    if key in _REGISTRY:
        return _call(_REGISTRY[key], key, kwargs)
    path = Path(key)
    if not path.exists():
        raise DataNotFoundError(
            f"name_or_path={key!r} is neither a dataset name {list(dataset_names())} nor an "
            f"existing path. Pass a registered name, a folder of class sub-folders, or a "
            f".csv/.jsonl file."
        )
    loader = load_imdb if _is_imdb(path) else load_user_data
    return _call(loader, key, kwargs, path)


# Datasets that can be downloaded, and how (a download checks the file's sha256 and lands in
# the cache, where the loader finds it).
_DOWNLOADS: dict[str, Callable[[bool], Path]] = {
    "imdb": lambda progress: find_imdb(download_missing=True, progress=progress),
}


def downloadable_names() -> tuple[str, ...]:
    return tuple(sorted(_DOWNLOADS))


def download_dataset(name: str, progress: bool = True) -> Path:
    """Make the named dataset available locally (a no-op when a copy is found already) and
    return where it is; DataError for a name that has nothing to download."""
    if name not in _DOWNLOADS:
        bundled = " (it is bundled with rnnlab)" if name == "imdb-short" else ""
        raise DataError(f"dataset {name!r} cannot be downloaded{bundled}; downloadable: "
                        f"{list(downloadable_names())}")
    return _DOWNLOADS[name](progress)


def _call(loader: Loader, source: str, kwargs: dict[str, Any], *args: Any) -> TextDataset:
    parameters = inspect.signature(loader).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    # the path given positionally is not an option
    allowed = [name for name in parameters if not (args and name == "path")]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown and not takes_any:
        raise DataError(f"dataset {source!r} does not take {unknown}; it takes {allowed}")
    return loader(*args, **kwargs)
