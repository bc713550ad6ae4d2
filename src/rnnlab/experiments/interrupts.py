"""Ctrl-C during a study: taken once, never lost.

The SIGINT handler raises KeyboardInterrupt, so a study stops where it is, and then ignores
SIGINT, so a second Ctrl-C cannot cut the release of the claims short. Python raises that
KeyboardInterrupt wherever the main thread happens to be, and two kinds of place lose it:

- code that turns it into another error: torch.save's C++ zip writer calls the stream's
  ``write``; raised there, it makes the writer's ``__exit__`` raise ``RuntimeError:
  unexpected pos 64 vs 0`` instead, which once marked the run 'failed' (exit 1);
- places it cannot propagate from: a ``__del__`` method, a weakref or ``atexit`` callback,
  the garbage collector. There it is printed as "Exception ignored in ..." and dropped
  (a finished worker printed torch's ``weakref.finalize`` traceback at exit), and with
  SIGINT now ignored the run would train on to 'done'.

So the handler also records the interrupt. The runner asks for it at safe points
(:func:`raise_if_interrupted` after every epoch and before claiming or closing a run), and
takes an error raised after Ctrl-C for the interrupt, not for a failure of the run.

The record is per process, like the signal it records; :func:`interrupt_once` clears it when
a study starts, so an interrupted study does not stop the next one in the same process.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["interrupt_once", "interrupt_requested", "raise_if_interrupted",
           "take_one_interrupt"]

_requested = False  # set by the handler; a signal belongs to the process, not to an object


def interrupt_requested() -> bool:
    """Whether a SIGINT reached this process since the study started (even a dropped one)."""
    return _requested


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed, wherever its first raise went."""
    if _requested:
        raise KeyboardInterrupt


def _interrupt(signum: int, frame: object) -> None:
    """A SIGINT handler that records the interrupt and raises it once, then ignores SIGINT."""
    global _requested
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _requested = True
    raise KeyboardInterrupt


def take_one_interrupt() -> None:
    """From now on the first SIGINT raises KeyboardInterrupt (and is recorded), later ones
    are ignored. For a worker process, which keeps the handler until it exits."""
    global _requested
    _requested = False
    signal.signal(signal.SIGINT, _interrupt)


@contextmanager
def interrupt_once() -> Iterator[None]:
    """In the block, the first SIGINT raises KeyboardInterrupt and later ones are ignored,
    so a second Ctrl-C cannot cut the release of the claims short.

    Nothing changes where SIGINT is ignored already (a background job) or off the main
    thread (where handlers cannot be set).
    """
    global _requested
    # The yields stay outside the try that catches ValueError: an error of the block (a
    # StoreDamagedError is a ValueError) must propagate, not be taken for "not the main
    # thread" (which made contextlib raise "generator didn't stop after throw()").
    previous = signal.getsignal(signal.SIGINT)
    installed = False
    if previous is not signal.SIG_IGN:
        try:
            signal.signal(signal.SIGINT, _interrupt)
            installed = True
        except ValueError:  # not the main thread
            pass
    if installed:
        _requested = False
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGINT, previous)
