"""Live progress of a study, read from the result store: what runs, how far, and the ETA.

The store is the single source of truth, so the same bar works for one in-process worker and
for several worker processes, and a resumed study starts from what is already done.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Collection
from pathlib import Path

from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.store_records import RunRow
from rnnlab.experiments.toy_runner import is_toy_run
from rnnlab.experiments.toy_study import TOY_SCORES


class StudyProgress:
    """Progress over all epochs of all runs of a study, refreshed from the store.

    Every finished run gets one line (its label, accuracy and the study's ETA). On a
    terminal, and unless ``enabled`` is False (``--no-progress``), a tqdm bar naming the runs
    in training is drawn below those lines; ``enabled=False`` hides only the bar, never the
    results. Use as a context manager around the training; it polls the store from a thread
    every ``interval`` seconds (with its own connection). Given ``only``, it counts only
    the runs with those ids (the ones this invocation trains of a larger stored study).
    """

    def __init__(self, store: ResultStore, study_id: int, epochs_per_run: int, *,
                 enabled: bool = True, interval: float = 1.0,
                 only: Collection[int] | None = None) -> None:
        self.store_path = Path(store.path)
        self.study_id = study_id
        self.only = None if only is None else frozenset(only)
        self.epochs_per_run = epochs_per_run
        self.enabled = enabled
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StudyProgress:
        self._thread = threading.Thread(target=self._poll, name="study-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _runs(self, store: ResultStore) -> list[RunRow]:
        runs = store.runs(self.study_id)
        return runs if self.only is None else [run for run in runs if run.id in self.only]

    def _snapshot(self, store: ResultStore) -> tuple[int, int, str]:
        runs = self._runs(store)
        total = len(runs) * self.epochs_per_run
        done = sum(self.epochs_per_run if run.status in ("done", "failed")
                   else (run.last_epoch or 0) for run in runs)
        running = [f"{run.label}{'/masked' if run.masked else ''} #{run.run_index} "
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
        bar = self._bar(store) if self.enabled and sys.stderr.isatty() else None
        started = time.monotonic()
        reported = {run.id for run in self._runs(store) if run.status in ("done", "failed")}
        done_at_start, _, _ = self._snapshot(store)
        while True:
            stopped = self._stop.wait(self.interval)
            runs = self._runs(store)
            done, total, label = self._snapshot(store)
            for run in runs:
                if run.status not in ("done", "failed") or run.id in reported:
                    continue
                reported.add(run.id)
                rate = (time.monotonic() - started) / max(done - done_at_start, 1)
                line = _result_line(run, len(reported), len(runs), rate * (total - done))
                if bar is None:
                    print(line, file=sys.stderr, flush=True)
                else:
                    bar.write(line, file=sys.stderr)  # above the bar, which is redrawn
            if bar is not None:
                bar.total = total
                bar.update(done - bar.n)
                bar.set_postfix_str(label)
            if stopped:
                break
        if bar is not None:
            bar.close()
        store.close()

    def _bar(self, store: ResultStore):
        from tqdm import tqdm

        done, total, label = self._snapshot(store)
        bar = tqdm(total=total, initial=done, unit="epoch", file=sys.stderr,
                   dynamic_ncols=True, desc="study", smoothing=0.1)
        bar.set_postfix_str(label)
        return bar


def _result_line(run: RunRow, position: int, runs: int, eta_seconds: float) -> str:
    """``[3/12] MS_RST_biGRU+layernorm masked run 0: test accuracy 81.20%; ETA 4.2 min``;
    a toy run names its task and T and says its loss beside the baseline:
    ``[2/9] gru adding-T200 run 1: test MSE 0.0042 (baseline 0.1667), 71.30% within 0.04``"""
    task = _toy_task(run)
    if run.status != "done":
        outcome = "FAILED (see the report)"
    elif task is not None and run.test_loss is not None:
        outcome = _toy_outcome(task, run)
    elif run.test_accuracy is not None:
        outcome = f"test accuracy {run.test_accuracy:.2%}"
    else:
        outcome = "done (no test score)"
    what = f"{run.label} {run.dataset}" if task is not None else run.label
    return (f"[{position}/{runs}] {what}{' masked' if run.masked else ''} run "
            f"{run.run_index}: {outcome}; ETA {eta_seconds / 60:.1f} min")


def _toy_task(run: RunRow) -> str | None:
    if not is_toy_run(run):
        return None
    task = run.config["task"]
    name = task.get("task") if isinstance(task, dict) else None
    return name if name in TOY_SCORES else None


def _toy_outcome(task: str, run: RunRow) -> str:
    loss_name, share = TOY_SCORES[task]
    baseline = run.config.get("baseline")
    text = f"{loss_name} {run.test_loss:.4g}"
    if isinstance(baseline, int | float):
        text += f" (baseline {baseline:.4g})"
    if run.test_accuracy is not None:
        text += f", {run.test_accuracy:.2%} {share}"
    return text
