"""Options and checks every ``rnnlab`` command shares, so each is spelled and validated once.

    add_threads_option(parser)      # --threads N, N >= 1, checked while parsing
    apply_threads(args)             # torch.set_num_threads(args.threads) if given
    check_out_dir(args.out)         # --out must be a directory or not exist yet
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_threads_option", "apply_threads", "check_out_dir", "thread_count"]

THREADS_HELP = ("torch CPU threads for this process (default: torch's choice, one per core). "
                "rnnlab sets OMP_WAIT_POLICY=PASSIVE unless you set it, so idle threads sleep "
                "instead of spinning and a busy machine slows training by about 2x, not 100x; "
                "use 1 per process when several jobs share the machine")


def thread_count(text: str) -> int:
    """argparse ``type`` of ``--threads``: an integer >= 1 (torch refuses anything else)."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def add_threads_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add ``--threads`` (validated while parsing: a bad value is a usage error, exit 2)."""
    parser.add_argument("--threads", type=thread_count, default=None, metavar="N",
                        help=THREADS_HELP)


def apply_threads(args: argparse.Namespace) -> None:
    """Set torch's intra-op threads from ``--threads``; without it, leave torch's choice."""
    if getattr(args, "threads", None) is not None:
        import torch

        torch.set_num_threads(args.threads)


def check_out_dir(value: str | Path, option: str = "--out") -> Path:
    """``value`` as a run directory path: it may not exist yet, but neither it nor the first
    of its parents that exists may be a file."""
    path = Path(value)
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                what = ("is a file" if candidate == path
                        else f"is inside {str(candidate)!r}, which is a file")
                raise ValueError(f"{option} {str(path)!r} {what}, not a directory; give a run "
                                 "directory (it is created if missing)")
            break
    return path
