"""The Ray task side of ``rnnlab compare --executor ray``: one run, trained in a scratch dir.

A task gets the claimed run, the encoded data and the files of the run's directory (empty for
a new run, the last checkpoint for one to resume); it trains with the runner's own
:func:`~rnnlab.experiments.runner.train_one_run` and yields what that would have written to
the store, each message with the run's files as they are at that moment::

    ("discard", epoch)                     the store forgets epochs > epoch
    ("epoch", EpochMetrics, files)         after each epoch's checkpoint
    ("finish", finish_run kwargs, files)   the run is done
    ("fail", traceback)                    training raised

``files`` maps paths relative to the study directory to their bytes, so the checkpoints travel
back through Ray and no directory needs to be shared between the nodes.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rnnlab.experiments.store_records import RunRow

_END = ("end",)
Files = dict[str, bytes]


def study_files(study_dir: Path, under: Path | None = None) -> Files:
    """The files below ``under`` (default: all of ``study_dir``), keyed by their path
    relative to ``study_dir``; lock files and half-written temporaries are left out."""
    root = under if under is not None else study_dir
    if not root.is_dir():
        return {}
    return {path.relative_to(study_dir).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file() and not path.name.startswith(".") and path.name != "run.lock"}


class _Recorder:
    """Stands in for the result store inside a task: every write becomes a message."""

    def __init__(self, study_dir: Path, messages: queue.Queue) -> None:
        self.study_dir, self.messages = study_dir, messages

    def discard_epochs_after(self, run_id: int, epoch: int) -> int:
        self.messages.put(("discard", epoch))
        return 0

    def record_epoch(self, run_id: int, metrics: Any, *, checkpoint_path: Any = None) -> None:
        # called after the epoch's checkpoint is on disk: the files are that epoch's
        self.messages.put(("epoch", metrics, study_files(self.study_dir)))

    def finish_run(self, run_id: int, **values: Any) -> None:
        values.pop("checkpoint_path", None)  # a scratch path; the driver knows the real one
        self.messages.put(("finish", values, study_files(self.study_dir)))

    def fail_run(self, run_id: int, error: str) -> None:
        self.messages.put(("fail", error))

    def release_claims(self, study_id: int) -> int:
        return 0  # the driver owns the claims


def train_run(run: RunRow, data: Any, files: Files, threads: int) -> Iterator[tuple]:
    """The body of the Ray task (a generator: each message streams to the driver at once)."""
    import torch

    from rnnlab.experiments.runner import train_one_run

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="rnnlab-ray-") as scratch:
        study_dir = Path(scratch)
        for name, content in files.items():
            (study_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (study_dir / name).write_bytes(content)
        messages: queue.Queue = queue.Queue()

        def train() -> None:
            try:
                train_one_run(_Recorder(study_dir, messages), run, data, study_dir)
                messages.put(_END)
            except BaseException:  # raised again in the task, below
                messages.put(("error", traceback.format_exc()))

        # train_one_run reports through callbacks; a thread lets this generator yield them
        # as they happen instead of all at the end
        worker = threading.Thread(target=train, name=f"run-{run.id}", daemon=True)
        worker.start()
        while (message := messages.get()) != _END:
            if message[0] == "error":
                raise RuntimeError(f"training run {run.id} raised:\n{message[1]}")
            yield message
        worker.join()
