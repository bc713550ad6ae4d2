"""Regenerate rnnlab's bundled ``imdb-short`` subset from an IMDB archive or folder.

    python scripts/make_imdb_short.py        # reads $RNNLAB_DATA_DIR or ../shared/data
    python scripts/make_imdb_short.py --source aclImdb_v1.tar.gz

Keeps the reviews of at most 100 tokens (rnnlab's tokenizer) from both splits, writes
``src/rnnlab/data/bundled/imdb_short.jsonl.xz`` and prints the count per split and label
and the file size (to be copied into ``bundled/README.md``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rnnlab.data.imdb_short import SHORT_FILENAME, SHORT_MAX_TOKENS, write_short_subset

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("RNNLAB_DATA_DIR", REPO.parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_DATA / "imdb" / "aclImdb_labeled.tar.gz",
        help="aclImdb/ folder or .tar.gz (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "src" / "rnnlab" / "data" / "bundled" / SHORT_FILENAME,
    )
    parser.add_argument("--max-tokens", type=int, default=SHORT_MAX_TOKENS)
    args = parser.parse_args()
    counts = write_short_subset(args.source, args.out, args.max_tokens)
    for (split, label), count in sorted(counts.items()):
        print(f"{split:5s} {label}: {count}")
    print(f"total: {sum(counts.values())}")
    print(f"{args.out}: {args.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
