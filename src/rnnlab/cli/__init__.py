"""The ``rnnlab`` command line: a thin layer that parses arguments and calls the library.

Each command lives in its own module with ``register(subparsers)``, which adds a sub-parser
whose ``handler`` is called with the parsed arguments and returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from rnnlab.cpu_threads import can_govern

# OpenMP threads that wait for work by spinning make a competing process a 4-45× slowdown;
# sleeping waiters (PASSIVE) make 2 threads slower than 1 on an idle machine. Where rnnlab can
# see the machine's load it keeps OpenMP's default and follows the free cores with the thread
# count instead (rnnlab.cpu_threads); elsewhere PASSIVE is the safer choice. It must be
# set before torch loads its OpenMP runtime, which no command has done yet at this point; an
# explicit setting of the user's wins.
if not can_govern():
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

# Command modules, in the order `rnnlab --help` lists them.
COMMAND_MODULES = (
    "rnnlab.cli.train",
    "rnnlab.cli.compare",
    "rnnlab.cli.lm",
    "rnnlab.cli.embed",
    "rnnlab.cli.audit",
    "rnnlab.cli.bench",
    "rnnlab.cli.diagnose",
    "rnnlab.cli.toys",
    "rnnlab.cli.export",
    "rnnlab.cli.predict",
    "rnnlab.cli.tag",
)


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    from rnnlab.cli.common import CommandParser

    # Sub-parsers inherit the class, so every command's --help shows its defaults.
    parser = CommandParser(
        prog="rnnlab",
        description="A lab for recurrent sequence models: train, compare, audit, benchmark.",
        epilog="environment: RNNLAB_DATA_DIR, a folder holding imdb/aclImdb*.tar.gz and "
               "brown/brown.tar.gz (default: a source checkout's ../shared/data); "
               "RNNLAB_CACHE, where downloads go (default ~/.cache/rnnlab); RNNLAB_DEBUG=1 "
               "shows tracebacks instead of one-line errors.",
    )
    from rnnlab import __version__

    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:  # a real missing dependency, not a missing command
                raise
            continue
        module.register(subparsers)
    return parser


# Commands that need no other command module: only theirs is imported, so `rnnlab predict
# --model DIR` starts without torch (the other command modules import it).
_STANDALONE = {"predict": ("rnnlab.cli.predict",)}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_STANDALONE.get(argv[0], COMMAND_MODULES) if argv else COMMAND_MODULES)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except (ValueError, FileNotFoundError, FloatingPointError) as error:
        # Bad input (exit 2) or a run that failed, e.g. diverged (exit 1): one clear line,
        # no traceback (set RNNLAB_DEBUG=1 to see it).
        import os

        if os.environ.get("RNNLAB_DEBUG"):
            raise
        print(f"rnnlab {args.command}: error: {error}", file=sys.stderr)
        return 1 if isinstance(error, FloatingPointError) else 2


if __name__ == "__main__":
    sys.exit(main())
