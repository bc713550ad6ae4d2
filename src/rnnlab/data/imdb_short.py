"""``imdb-short``: the IMDB reviews of at most 100 tokens, shipped inside the package.

``bundled/imdb_short.jsonl.xz`` holds one JSON object per review::

    {"id": "10000_8", "label": "pos", "split": "train", "text": "..."}

taken from both official splits of the Large Movie Review Dataset (Maas et al., 2011; see
``bundled/README.md`` for the attribution and counts), keeping every review whose
``tokenize(text)`` has at most 100 tokens. ``scripts/make_imdb_short.py`` regenerates it
from the archive with ``write_short_subset``. The valid split is held out from train as for
the full dataset (``valid_fraction`` of each label, chosen by ``seed``).
"""

from __future__ import annotations

import json
import lzma
import os
from collections import Counter
from importlib import resources
from pathlib import Path

from rnnlab.data.errors import DataError
from rnnlab.data.imdb import Review, read_imdb, reviews_to_dataset
from rnnlab.data.splits import TextDataset
from rnnlab.data.text import tokenize

SHORT_MAX_TOKENS = 100
SHORT_FILENAME = "imdb_short.jsonl.xz"


def short_reviews(reviews: list[Review], max_tokens: int = SHORT_MAX_TOKENS) -> list[Review]:
    """The reviews whose tokenized length is at most ``max_tokens`` (order kept)."""
    return [review for review in reviews if len(tokenize(review[3])) <= max_tokens]


def write_short_subset(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    max_tokens: int = SHORT_MAX_TOKENS,
) -> Counter[tuple[str, str]]:
    """Write the short reviews of ``source`` (folder or archive) as xz-compressed JSONL.

    Returns the count per (split, label). The output is byte-for-byte reproducible.
    """
    chosen = short_reviews(read_imdb(source), max_tokens)
    lines = [
        json.dumps(
            {"id": stem, "label": label, "split": split, "text": text},
            ensure_ascii=False,
            sort_keys=True,
        )
        for split, label, stem, text in chosen
    ]
    payload = ("\n".join(lines) + "\n").encode("utf-8")
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(lzma.compress(payload, preset=9 | lzma.PRESET_EXTREME))
    os.replace(tmp, out)
    return Counter((split, label) for split, label, _, _ in chosen)


def read_short_subset(path: str | os.PathLike[str] | None = None) -> list[Review]:
    """The reviews of the bundled subset (or of a file written by ``write_short_subset``)."""
    if path is None:
        data = resources.files("rnnlab.data").joinpath("bundled", SHORT_FILENAME).read_bytes()
    else:
        data = Path(path).read_bytes()
    try:
        # split("\n"), not splitlines(): texts may hold U+2028 and other line breaks
        lines = lzma.decompress(data).decode("utf-8").split("\n")
        records = [json.loads(line) for line in lines if line]
        return [(r["split"], r["label"], r["id"], r["text"]) for r in records]
    except (lzma.LZMAError, json.JSONDecodeError, KeyError) as error:
        raise DataError(
            f"the imdb-short file {path or SHORT_FILENAME!r} is corrupt ({error}); "
            f"regenerate it with scripts/make_imdb_short.py or reinstall rnnlab"
        ) from error


def load_imdb_short(valid_fraction: float = 0.1, seed: int = 0) -> TextDataset:
    """The bundled short-review subset as train/valid/test (no download needed)."""
    return reviews_to_dataset(read_short_subset(), "imdb-short", valid_fraction, seed)
