"""Where a command's data comes from: ``--download`` and the advice when a dataset is missing.

    add_download_option(parser)                         # --download
    prepare_named_data("imdb", download=True)           # fetch (checksum, cache) if missing

Only named datasets that have a download (``imdb``) are fetched; the bundled ``imdb-short``
needs nothing, and a path is the user's own copy. A missing IMDB without ``--download`` is
refused before anything is trained or written, with the three ways to get it.
"""

from __future__ import annotations

import argparse

from rnnlab.data.datasets import dataset_names, download_dataset, downloadable_names
from rnnlab.data.download import cache_dir
from rnnlab.data.errors import DataNotFoundError
from rnnlab.data.imdb import IMDB_URL, find_imdb
from rnnlab.data.locations import DATA_DIR_VARIABLE

__all__ = ["DATA_LOCATIONS_HELP", "add_download_option", "prepare_named_data"]

DATA_LOCATIONS_HELP = (
    f"imdb and brown-genre are read from ${DATA_DIR_VARIABLE} (a folder holding "
    "imdb/aclImdb*.tar.gz and brown/brown.tar.gz), else a source checkout's ../shared/data, "
    "else the cache ($RNNLAB_CACHE, default ~/.cache/rnnlab), where --download puts imdb")


def add_download_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--download", action="store_true",
        help=f"download a missing named dataset first ({', '.join(downloadable_names())}: "
             f"{IMDB_URL}, about 80 MB, sha256-checked, into the cache) (default: off)")


def prepare_named_data(name: str, *, download: bool, progress: bool = True) -> None:
    """Make sure the dataset ``name`` can be loaded: download it if asked; refuse a missing
    IMDB with the CLI's ways to get it. Other names and paths are left to the loader."""
    if download:
        if name not in dataset_names():
            raise ValueError(f"--download fetches a named dataset {list(downloadable_names())}; "
                             f"--data {name!r} is a path to your own copy, which needs none")
        download_dataset(name, progress=progress)
        return
    if name == "imdb":
        try:
            find_imdb()
        except DataNotFoundError:
            raise DataNotFoundError(
                "the IMDB dataset (--data imdb) was not found. Get it with --download "
                f"({IMDB_URL} into {cache_dir()}), or pass your copy as --data "
                "PATH/aclImdb_v1.tar.gz (or an aclImdb/ folder), or set "
                f"{DATA_DIR_VARIABLE} to a folder holding imdb/aclImdb*.tar.gz") from None
