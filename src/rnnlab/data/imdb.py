"""IMDB movie reviews (Maas et al., 2011): an ``aclImdb/`` folder, a ``.tar.gz`` or a download.

Layout read (the official ``aclImdb_v1.tar.gz`` or any repack with the same tree)::

    aclImdb/train/{neg,pos}/<review id>_<rating>.txt     25,000 reviews
    aclImdb/test/{neg,pos}/<review id>_<rating>.txt      25,000 reviews
    aclImdb/train/unsup/...                              ignored (no labels)

Labels: neg = 0, pos = 1 (as in ``keras.datasets.imdb``). Within a split, examples are
ordered by label then review id, whatever order the folder or archive lists them in. The
valid split is held out from train: ``valid_fraction`` of each label, chosen by ``seed``.

A local archive is read by path without a checksum (repacks differ from the official file);
the official sha256 is checked only on download.
"""

from __future__ import annotations

import os
import re
import tarfile
from pathlib import Path

from rnnlab.data import locations
from rnnlab.data.download import cache_dir, download
from rnnlab.data.errors import DataError, DataNotFoundError
from rnnlab.data.files import decode_bytes
from rnnlab.data.splits import TextDataset, TextSplit, check_fractions, split_off

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
IMDB_LABELS = ("neg", "pos")
IMDB_CITATION = (
    "Andrew L. Maas, Raymond E. Daly, Peter T. Pham, Dan Huang, Andrew Y. Ng and "
    "Christopher Potts. 2011. Learning Word Vectors for Sentiment Analysis. ACL 2011."
)


def _how_to_get() -> str:
    return (
        "Get the Large Movie Review Dataset with load_imdb(download=True) (downloads "
        f"{IMDB_URL} into {cache_dir()}), or pass the aclImdb/ folder or the .tar.gz you have, "
        f"or set {locations.DATA_DIR_VARIABLE} to a folder holding imdb/aclImdb*.tar.gz."
    )


_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(neg|pos)/(\d+)_(\d+)\.txt$")

# One review: (split, label name, file stem "<id>_<rating>", text)
Review = tuple[str, str, str, str]


def read_imdb_folder(folder: str | os.PathLike[str]) -> list[Review]:
    """Every labelled review under an ``aclImdb/`` folder (or its parent)."""
    root = Path(folder)
    if (root / "aclImdb").is_dir():
        root = root / "aclImdb"
    reviews: list[Review] = []
    for split in ("train", "test"):
        for label in IMDB_LABELS:
            directory = root / split / label
            if not directory.is_dir():
                raise DataNotFoundError(
                    f"path={str(folder)!r} has no {split}/{label}/ folder; expected the "
                    f"aclImdb layout. {_how_to_get()}"
                )
            for file in directory.glob("*_*.txt"):
                text = decode_bytes(file.read_bytes(), str(file))
                reviews.append((split, label, file.stem, text))
    return _sorted(reviews, folder)


def read_imdb_archive(archive: str | os.PathLike[str]) -> list[Review]:
    """Every labelled review in an aclImdb ``.tar.gz``, reading the archive once, in order."""
    reviews: list[Review] = []
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                match = _MEMBER.search(member.name)
                if match is None or not member.isfile():
                    continue
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file always has a handle
                text = decode_bytes(handle.read(), f"{archive}:{member.name}")
                split, label, review_id, rating = match.groups()
                reviews.append((split, label, f"{review_id}_{rating}", text))
    except (tarfile.TarError, EOFError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise DataNotFoundError(
                f"path={str(archive)!r} does not exist. {_how_to_get()}"
            ) from error
        raise DataError(
            f"path={str(archive)!r} is not a readable tar archive ({error}). Download it again "
            f"or pass the extracted aclImdb/ folder."
        ) from error
    return _sorted(reviews, archive)


def _sorted(reviews: list[Review], source: object) -> list[Review]:
    if not reviews:
        raise DataError(
            f"path={str(source)!r} contains no aclImdb/{{train,test}}/{{neg,pos}}/*.txt reviews"
        )

    def key(review: Review) -> tuple[int, int, int]:
        split, label, stem, _ = review
        return (split != "train", IMDB_LABELS.index(label), int(stem.split("_")[0]))

    return sorted(reviews, key=key)


def read_imdb(path: str | os.PathLike[str]) -> list[Review]:
    """Reviews from a folder or an archive (decided by what ``path`` is)."""
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"path={str(path)!r} does not exist. {_how_to_get()}")
    return read_imdb_folder(path) if path.is_dir() else read_imdb_archive(path)


def reviews_to_dataset(
    reviews: list[Review], name: str, valid_fraction: float = 0.1, seed: int = 0
) -> TextDataset:
    """Group reviews by split; hold out ``valid_fraction`` of train (stratified, seeded)."""
    check_fractions(valid_fraction=valid_fraction)
    splits: dict[str, TextSplit] = {}
    for split_name in ("train", "test"):
        chosen = [r for r in reviews if r[0] == split_name]
        splits[split_name] = TextSplit(
            texts=tuple(r[3] for r in chosen),
            labels=[IMDB_LABELS.index(r[1]) for r in chosen],  # type: ignore[arg-type]
            ids=tuple(f"{r[0]}/{r[1]}/{r[2]}" for r in chosen),
        )
    train, valid = split_off(splits["train"], valid_fraction, seed)
    return TextDataset(name, train, valid, splits["test"], IMDB_LABELS)


def find_imdb(
    path: str | os.PathLike[str] | None = None,
    download_missing: bool = False,
    progress: bool = True,
) -> Path:
    """Where the IMDB data is: ``path``; else ``<data dir>/imdb/*.tar.gz`` (``$RNNLAB_DATA_DIR``
    or a checkout's ``../shared/data``, see :mod:`rnnlab.data.locations`); else the cache
    (``aclImdb/`` or ``aclImdb_v1.tar.gz``); else a download if ``download_missing``."""
    if path is not None:
        if not Path(path).exists():
            raise DataNotFoundError(f"path={str(path)!r} does not exist. {_how_to_get()}")
        return Path(path)
    data_dir = locations.data_dir()
    if data_dir is not None:
        archives = sorted((data_dir / "imdb").glob("aclImdb*.tar.gz"))
        if archives:
            return archives[0]
    for candidate in (cache_dir() / "aclImdb", cache_dir() / "aclImdb_v1.tar.gz"):
        if candidate.exists():
            return candidate
    if download_missing:
        # a fixed name, so the cache lookup above finds it whatever the URL's file is called
        return download(IMDB_URL, IMDB_SHA256, filename="aclImdb_v1.tar.gz", progress=progress)
    raise DataNotFoundError(f"IMDB was not found (path=None). {_how_to_get()}")


def load_imdb(
    path: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    valid_fraction: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> TextDataset:
    """The full IMDB dataset: 22,500 train / 2,500 valid / 25,000 test at the defaults.

    ``path`` is an ``aclImdb/`` folder (or its parent) or a ``.tar.gz``; see ``find_imdb``
    for where it is looked up when None.
    """
    location = find_imdb(path, download_missing=download, progress=progress)
    return reviews_to_dataset(read_imdb(location), "imdb", valid_fraction, seed)
