"""Live progress of a study, read from the result store: what runs, how far, and the ETA.

The store is the single source of truth, so the same bar works for one in-process worker and
for several worker processes, and a resumed study starts from what is already done.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from rnnlab.experiments.store import ResultStore


class StudyProgress:
    """Progress over all epochs of all runs of a study, refreshed from the store.

    On a terminal: a tqdm bar naming the runs in training, with the ETA. Elsewhere (a log, CI):
    one line per finished run, with its accuracy and the ETA, instead of a redrawn bar.
    Use as a context manager around the training; it polls the store from a thread every
    ``interval`` seconds (with its own connection).
    """

    def __init__(self, store: ResultStore, study_id: int, epochs_per_run: int, *,
                 enabled: bool = True, interval: float = 1.0) -> None:
        self.store_path = Path(store.path)
        self.study_id = study_id
        self.epochs_per_run = epochs_per_run
        self.enabled = enabled
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StudyProgress:
        if self.enabled:
            self._thread = threading.Thread(target=self._poll, name="study-progress",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _snapshot(self, store: ResultStore) -> tuple[int, int, str]:
        runs = store.runs(self.study_id)
        total = len(runs) * self.epochs_per_run
        done = sum(self.epochs_per_run if run.status in ("done", "failed")
                   else (run.last_epoch or 0) for run in runs)
        running = [f"{run.arrangement}{'/masked' if run.masked else ''} #{run.run_index} "
                   f"epoch {(run.last_epoch or 0) + 1}/{self.epochs_per_run}"
                   for run in runs if run.status == "running"]
        finished = sum(run.status == "done" for run in runs)
        label = f"{finished}/{len(runs)} runs done"
        if running:
            label += " | training " + ", ".join(running[:2])
            label += f" (+{len(running) - 2})" if len(running) > 2 else ""
        return done, total, label

    def _poll(self) -> None:
        store = ResultStore(self.store_path)  # this thread's own connection
        if sys.stderr.isatty():
            self._poll_bar(store)
        else:
            self._poll_lines(store)
        store.close()

    def _poll_lines(self, store: ResultStore) -> None:
        started = time.monotonic()
        reported = {run.id for run in store.runs(self.study_id)
                    if run.status in ("done", "failed")}
        done_at_start, _, _ = self._snapshot(store)
        while True:
            stopped = self._stop.wait(self.interval)
            runs = store.runs(self.study_id)
            done, total, _ = self._snapshot(store)
            for run in runs:
                if run.status not in ("done", "failed") or run.id in reported:
                    continue
                reported.add(run.id)
                rate = (time.monotonic() - started) / max(done - done_at_start, 1)
                eta = rate * (total - done)
                outcome = (f"test accuracy {run.test_accuracy:.2%}" if run.status == "done"
                           else "FAILED (see the report)")
                print(f"[{len(reported)}/{len(runs)}] {run.arrangement}"
                      f"{' masked' if run.masked else ''} run {run.run_index}: {outcome}; "
                      f"ETA {eta / 60:.1f} min", file=sys.stderr, flush=True)
            if stopped:
                return

    def _poll_bar(self, store: ResultStore) -> None:
        from tqdm import tqdm

        done, total, label = self._snapshot(store)
        bar = tqdm(total=total, initial=done, unit="epoch", file=sys.stderr,
                   dynamic_ncols=True, desc="study", smoothing=0.1)
        bar.set_postfix_str(label)
        while True:
            stopped = self._stop.wait(self.interval)
            done, total, label = self._snapshot(store)
            bar.total = total
            bar.update(done - bar.n)
            bar.set_postfix_str(label)
            if stopped:
                break
        bar.close()
