"""Where rnnlab looks for the real corpora (IMDB, Brown) when no path is given.

In order, the first folder that exists:

    $RNNLAB_DATA_DIR                     set by you (or by the Makefile)
    <checkout>/../shared/data            a source checkout's sibling folder (the team's
                                         machines keep the corpora there), found without make
    (then each loader's cache: $RNNLAB_CACHE or ~/.cache/rnnlab, where --download puts files)

A data folder holds ``imdb/aclImdb*.tar.gz`` and ``brown/brown.tar.gz``. An explicitly set
``RNNLAB_DATA_DIR`` is the only data folder searched, so a test or a user who points it
somewhere never reads another copy by accident; set to the empty string it means "no data
folder" (only the cache is searched).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_DIR_VARIABLE", "data_dir", "data_dir_candidates"]

DATA_DIR_VARIABLE = "RNNLAB_DATA_DIR"
# src/rnnlab/data/locations.py -> parents[3] is the checkout holding pyproject.toml
_CHECKOUT = Path(__file__).resolve().parents[3]


def data_dir_candidates() -> list[Path]:
    """The data folders searched, most specific first (see the module docstring)."""
    override = os.environ.get(DATA_DIR_VARIABLE)
    if override is not None:
        return [Path(override).expanduser()] if override else []
    if (_CHECKOUT / "pyproject.toml").is_file():  # not in an installed wheel
        return [_CHECKOUT.parent / "shared" / "data"]
    return []


def data_dir() -> Path | None:
    """The first data folder that exists, or None."""
    return next((path for path in data_dir_candidates() if path.is_dir()), None)
