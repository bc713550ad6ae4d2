"""Options and checks every ``rnnlab`` command shares, so each is spelled and validated once.

    add_threads_option(parser)      # --threads N, N >= 1, checked while parsing
    apply_threads(args)             # --threads as a ceiling: fewer while others take the cores
    add_worker_threads_option(parser)   # --threads N per worker process (compare, toys)
    check_out_dir(args.out)         # --out must be a directory or not exist yet
    int_at_least(2, "PAD and OOV take ids 0 and 1")   # argparse ``type`` of a bounded int
    CommandParser                   # the parser class of every command: defaults in --help
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

__all__ = ["CommandParser", "DefaultsHelpFormatter", "add_threads_option",
           "add_worker_threads_option", "apply_threads", "check_out_dir", "int_at_least",
           "study_exit_code", "thread_count"]

THREADS_HELP = ("torch CPU threads for this process (default: torch's choice, one per core). "
                "While other processes take CPU, rnnlab uses only the cores they leave free "
                "(at least one) and goes back to N when they stop, so a busy machine slows "
                "training by ~1.4x instead of 4x (RNNLAB_THREAD_GOVERNOR=0 turns this off); "
                "use 1 per process when you run several jobs side by side")


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the help text already states it.

    argparse's ``ArgumentDefaultsHelpFormatter`` would print "(default: None)" for options
    whose absence means "use the preset's" or "not given", and repeat defaults the text
    already gives; this one says "off"/"on" for flags and "not set" for None.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if (not action.option_strings or "default" in help_text.lower()
                or action.default is argparse.SUPPRESS):
            return help_text
        if isinstance(action, argparse.BooleanOptionalAction):
            default = {True: "on", False: "off", None: "not set"}.get(action.default,
                                                                      "%(default)s")
        elif isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
            default = "on" if action.default else "off"
        elif action.default is None:
            default = "not set"
        else:
            default = "%(default)s"
        return f"{help_text} (default: {default})" if help_text else f"(default: {default})"


class CommandParser(argparse.ArgumentParser):
    """The parser of ``rnnlab`` and of every sub-command (argparse gives sub-parsers the
    class of their parent), so every ``--help`` shows the defaults the same way."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def float_or_nan(text: str) -> float:
    """``text`` as a float; NaN (which fails every range check) if it is not one, so an
    argparse ``type`` has one error message for a bad number and an out-of-range one."""
    try:
        return float(text)
    except ValueError:
        return float("nan")


def positive_float(text: str) -> float:
    """An argparse ``type``: a finite float > 0 (a learning rate, a clipping norm)."""
    value = float_or_nan(text)
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def probability(text: str) -> float:
    """An argparse ``type``: a dropout rate in [0, 1) (argparse names the option)."""
    value = float_or_nan(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(
            f"must be a probability in [0, 1) (0 is off), got {text!r}")
    return value


def int_at_least(minimum: int, why: str = "") -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``minimum``. A bad value is a usage error naming
    the option (``argument --vocab-size: must be an integer >= 2 ..., got '1'``), exit 2."""
    reason = f" ({why})" if why else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(
                f"must be an integer >= {minimum}{reason}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {minimum}"  # what argparse calls the type in messages
    return parse


thread_count = int_at_least(1)  # torch refuses fewer than one thread
thread_count.__doc__ = "argparse ``type`` of ``--threads``: an integer >= 1."


def add_threads_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                       help: str = THREADS_HELP) -> None:
    """Add ``--threads`` (validated while parsing: a bad value is a usage error, exit 2)."""
    parser.add_argument("--threads", type=thread_count, default=None, metavar="N", help=help)


def add_worker_threads_option(parser: argparse.ArgumentParser) -> None:
    """``--threads`` of commands that train in worker processes (``compare``, ``toys``):
    the same check, but the count is per worker and passed to the workers, not applied to
    this process (so no :func:`apply_threads`)."""
    parser.add_argument("--threads", type=thread_count, default=None, metavar="N",
                        help="torch threads per worker (default: cores / jobs)")


def apply_threads(args: argparse.Namespace, *, follow_free_cores: bool = True) -> None:
    """Use ``--threads`` torch threads (without it, torch's choice) while the machine's cores
    are free, fewer while other processes take them (:mod:`rnnlab.cpu_threads`);
    ``follow_free_cores=False`` keeps the count fixed (a benchmark compares at one count)."""
    threads = getattr(args, "threads", None)
    if follow_free_cores:
        from rnnlab.cpu_threads import govern_threads

        govern_threads(threads)
    elif threads is not None:
        import torch

        torch.set_num_threads(threads)


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


def read_utf8_file(value: str, option: str = "--file") -> str:
    """The text of the UTF-8 file ``value`` given to ``option``; a missing file or one that is
    not UTF-8 is a ValueError/FileNotFoundError naming the option and the fix."""
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"{option} {str(path)!r} does not exist; give a UTF-8 text file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{option} {str(path)!r} is not UTF-8 text ({error.reason} at byte "
                         f"{error.start}); convert it to UTF-8") from None


def missing_extra_is_bad_input(handler):
    """``handler`` with an ImportError that names an rnnlab extra (``pip install
    'rnnlab[onnx]'``) turned into a ValueError: one clear line and exit 2, no traceback."""
    import functools

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ImportError as error:
            if "pip install 'rnnlab[" not in str(error):
                raise
            raise ValueError(str(error)) from None

    return run


def study_exit_code(outcome) -> int:
    """Print a finished study's run counts and report paths; 1 if any run failed, else 0."""
    counts = ", ".join(f"{count} {status}" for status, count in outcome.status_counts.items()
                       if count)
    print(f"runs: {counts}; {outcome.wall_seconds / 60:.1f} min")
    if outcome.report_markdown is not None:
        print(f"report: {outcome.report_html}\n        {outcome.report_markdown}")
    return 0 if not outcome.status_counts.get("failed") else 1
