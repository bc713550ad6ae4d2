"""Is rnnlab's 12-arrangement study several times faster than seed 002's own Keras code?

Both sides train every arrangement on the same arrays (``imdb-short``, vocabulary 5000,
maxlen 100, pre-padding, from ``rnnlab.data.encode_dataset``), batch 32, Adam 1e-3,
binary cross-entropy, on the same number of CPU threads, one training at a time::

    parent (this script)              one subprocess per measurement, run one after another
    ──────────────────────            ─────────────────────────────────────────────────────
    prepare arrays once ──► .npz ──►  keras-tensorflow  TF venv, keras_seed_models.py, fit()
                         + vocab ──►  keras-torch       project venv, the same file, fit()
                                      rnnlab            train_classifier, masked=False
                                      rnnlab-masked     train_classifier, masked=True

Each worker reports wall and CPU seconds per epoch. The first epoch carries tracing and
warm-up, so the comparison uses the steady epochs (2..E). ``--train-examples`` and
``--keras-torch-examples`` train a seeded random subset of the rows instead (Keras on torch
is slow); per-epoch time is scaled by batches to a full epoch (unmasked batches are all 100
wide, so every batch costs the same). ``--full-run`` trains one arrangement on all rows for
the study's 5 epochs, a measured check of the extrapolation and of test accuracy.
``--rnnlab-threads 1`` adds the rnnlab sides on 1 thread (see RESULTS.md for why).

    python benchmarks/bench_study_vs_keras.py --epochs 2 --backends tensorflow,torch \\
        --arrangements all --results benchmarks/RESULTS.md          # all rows: slow

``--json`` keeps the raw measurements; ``--from-json`` (with ``--notes``) renders them again
into ``--output``/``--results`` without measuring.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
KERAS_WORKER = HERE / "keras_seed_models.py"
SECTION_TITLE = "## The 12-arrangement study: rnnlab vs the seed's Keras code"
STUDY_RUNS, STUDY_EPOCHS = 5, 5  # seed 002: every arrangement 5 runs × 5 epochs
BATCH_SIZE = 32  # Keras fit's default, which the seed keeps
KERAS_SIDES = {"tensorflow": "keras-tensorflow", "torch": "keras-torch"}


# -- the arrays both sides see --------------------------------------------------------------
def prepare_arrays() -> Any:
    """``imdb-short`` encoded as seed 002 does: 5000 ids, maxlen 100, pre-padding."""
    from rnnlab.data import encode_dataset, load_dataset

    return encode_dataset(load_dataset("imdb-short"))


def subset_rows(examples: int, keep: int | None, seed: int = 0) -> np.ndarray:
    """Sorted row indices of a seeded random subset (all rows when ``keep`` is None).

    The bundled splits are sorted by label, so a prefix would be one class only.
    """
    if keep is None or keep >= examples:
        return np.arange(examples)
    return np.sort(np.random.default_rng(seed).choice(examples, size=keep, replace=False))


def write_arrays(prepared: Any, directory: Path, train_examples: int | None) -> Path:
    """Write the arrays of one training subset (and the full test split) to an .npz."""
    rows = subset_rows(len(prepared.train), train_examples)
    path = directory / f"arrays_{len(rows)}.npz"
    np.savez(path, x_train=prepared.train.ids[rows], y_train=prepared.train.labels[rows],
             lengths_train=prepared.train.lengths[rows], x_test=prepared.test.ids,
             y_test=prepared.test.labels, lengths_test=prepared.test.lengths)
    prepared.vocab.save(directory / "vocab.json")
    return path


def rnnlab_data(npz_path: Path, vocab_path: Path) -> Any:
    """The ``ClassificationData`` the rnnlab side trains on, read from the Keras side's file.

    valid is empty (Keras ``fit`` here has no validation either) and so is test, so that
    ``train_classifier``'s epoch time is training only; test is scored after training.
    """
    from rnnlab.data import EncodingConfig, Vocab
    from rnnlab.data.prepare import ClassificationData, EncodedSplit

    with np.load(npz_path) as arrays:
        train = EncodedSplit(arrays["x_train"], arrays["lengths_train"], arrays["y_train"])
        test = EncodedSplit(arrays["x_test"], arrays["lengths_test"], arrays["y_test"])
    empty = EncodedSplit(train.ids[:0], train.lengths[:0], train.labels[:0])
    data = ClassificationData(train, empty, empty, Vocab.load(vocab_path), ("neg", "pos"),
                              EncodingConfig(maxlen=train.ids.shape[1], padding="pre"),
                              name="imdb-short")
    return data, test


# -- the rnnlab worker (runs in its own process, like the Keras worker) ----------------------
def rnnlab_worker(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    from rnnlab.train.classifier_run import classifier_config_for, train_classifier
    from rnnlab.train.config import TrainConfig
    from rnnlab.train.metrics import evaluate_split

    data, test = rnnlab_data(Path(args.data), Path(args.vocab))
    config = classifier_config_for(data, args.arrangement, masked=args.masked)
    cpu_marks = [time.process_time()]
    started = time.perf_counter()
    result = train_classifier(
        config, data, seed=args.seed, epochs=args.epochs, progress=False,
        train_config=TrainConfig(batch_size=BATCH_SIZE, lr=1e-3),
        on_epoch=lambda _metrics: cpu_marks.append(time.process_time()))
    fit_seconds = time.perf_counter() - started
    _, test_accuracy = evaluate_split(result.model, test, padding="pre")
    return {
        "side": "rnnlab-masked" if args.masked else "rnnlab",
        "arrangement": args.arrangement,
        "epoch_seconds": [m.seconds for m in result.history],
        "epoch_cpu_seconds": list(np.diff(cpu_marks)),
        "train_examples": len(data.train),
        "fit_seconds": fit_seconds,
        "train_loss": result.history[-1].train_loss,
        "train_accuracy": result.history[-1].train_accuracy,
        "test_accuracy": test_accuracy,
        "versions": {"torch": torch.__version__},
    }


# -- running one measurement -----------------------------------------------------------------
@dataclass
class Measurement:
    side: str
    arrangement: str
    threads: int
    epoch_seconds: list[float]
    epoch_cpu_seconds: list[float]
    train_examples: int
    full_examples: int
    test_accuracy: float
    fit_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.side} ({self.threads}t)"

    @property
    def scale(self) -> float:
        """Full-epoch batches / measured batches."""
        return (math.ceil(self.full_examples / BATCH_SIZE)
                / math.ceil(self.train_examples / BATCH_SIZE))

    def steady(self, values: list[float]) -> float:
        return statistics.median(values[1:]) if len(values) > 1 else values[0]

    @property
    def steady_epoch(self) -> float:
        """Wall seconds of one full-data epoch after the first (scaled from a subset)."""
        return self.steady(self.epoch_seconds) * self.scale

    @property
    def steady_epoch_cpu(self) -> float:
        return self.steady(self.epoch_cpu_seconds) * self.scale

    @property
    def first_epoch_overhead(self) -> float:
        """What the first epoch costs beyond a steady one (tracing, warm-up); not scaled."""
        return max(0.0, self.epoch_seconds[0] - self.steady(self.epoch_seconds))


def run_worker(side: str, arrangement: str, *, npz: Path, vocab: Path, epochs: int,
               threads: int, seed: int, full_examples: int, tf_python: str) -> Measurement:
    """Run one measurement in a fresh process and parse its JSON line."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    common = ["--data", str(npz), "--arrangement", arrangement, "--epochs", str(epochs),
              "--threads", str(threads), "--seed", str(seed)]
    if side.startswith("keras-"):
        backend = side.removeprefix("keras-")
        env.update(KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
        python = tf_python if backend == "tensorflow" else sys.executable
        command = [python, str(KERAS_WORKER), *common]
    else:
        command = [sys.executable, __file__, "--worker", *common, "--vocab", str(vocab)]
        if side == "rnnlab-masked":
            command.append("--masked")
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"{side} {arrangement} failed ({completed.returncode}):\n"
                           f"{completed.stderr[-3000:]}")
    row = json.loads(lines[-1])
    return Measurement(side=side, arrangement=arrangement, threads=threads,
                       epoch_seconds=row.pop("epoch_seconds"),
                       epoch_cpu_seconds=row.pop("epoch_cpu_seconds"),
                       train_examples=row.pop("train_examples"), full_examples=full_examples,
                       test_accuracy=row.pop("test_accuracy"),
                       fit_seconds=row.pop("fit_seconds"), extra=row)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# -- reporting --------------------------------------------------------------------------------
def median_by(rows: list[Measurement], attribute: str,
              reduce: Any = statistics.median) -> dict[tuple[str, str], float]:
    """``reduce`` (median, or min: the repeat least disturbed) per (side, arrangement)."""
    groups: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        groups.setdefault((row.label, row.arrangement), []).append(getattr(row, attribute))
    return {key: reduce(values) for key, values in groups.items()}


def spread(rows: list[Measurement], attribute: str) -> dict[tuple[str, str], float]:
    """max/min over repeats: 1.0 = identical repeats; large = noisy."""
    groups: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        groups.setdefault((row.label, row.arrangement), []).append(getattr(row, attribute))
    return {key: max(values) / min(values) for key, values in groups.items()}


def epoch_table(rows: list[Measurement], labels: list[str], arrangements: list[str],
                attribute: str, reference: str, reduce: Any = statistics.median) -> list[str]:
    """Markdown rows: seconds per full epoch per side, and reference / each rnnlab side."""
    medians, spreads = median_by(rows, attribute, reduce), spread(rows, attribute)
    ours = [label for label in labels if label.startswith("rnnlab")]
    header = ["arrangement", *labels, *(f"Keras-TF ÷ {label}" for label in ours)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    totals = dict.fromkeys(labels, 0.0)
    for name in arrangements:
        cells = [name]
        for label in labels:
            value = medians.get((label, name))
            if value is None:
                cells.append("–")
                continue
            totals[label] += value
            noisy = " ⚠" if spreads[(label, name)] > 1.3 else ""
            cells.append(f"{value:.1f}{noisy}")
        ratios = [_ratio(medians.get((reference, name)), medians.get((label, name)))
                  for label in ours]
        lines.append("| " + " | ".join([*cells, *ratios]) + " |")
    lines.append("| **sum of 12** | "
                 + " | ".join([*(f"**{totals[label]:.0f}**" for label in labels),
                               *(f"**{_ratio(totals.get(reference), totals[label])}**"
                                 for label in ours)]) + " |")
    return lines


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "–"
    return f"{numerator / denominator:.2f}×"


def study_totals(rows: list[Measurement], labels: list[str], arrangements: list[str]) -> list[str]:
    """The whole study (12 × 5 runs × 5 epochs) extrapolated from the per-epoch times."""
    lines = ["| side | study wall time from the medians | from the best repeats |",
             "|---|---|---|"]
    for label in labels:
        cells = []
        for reduce in (statistics.median, min):
            steady = median_by(rows, "steady_epoch", reduce)
            overhead = median_by(rows, "first_epoch_overhead", reduce)
            if not all((label, name) in steady for name in arrangements):
                break
            seconds = sum(STUDY_RUNS * (STUDY_EPOCHS * steady[(label, name)]
                                        + overhead[(label, name)]) for name in arrangements)
            cells.append(f"{seconds / 60:.0f} min")
        if len(cells) == 2:
            lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return lines


def full_run_table(rows: list[Measurement]) -> list[str]:
    lines = ["| arrangement | side | epochs | measured fit wall s | s/epoch (steady) "
             "| CPU s/epoch | test accuracy |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.arrangement} | {row.label} | {len(row.epoch_seconds)} | "
                     f"{row.fit_seconds:.1f} | {row.steady_epoch:.1f} | "
                     f"{row.steady_epoch_cpu:.1f} | {row.test_accuracy:.3f} |")
    return lines


def render(rows: list[Measurement], full_rows: list[Measurement], args: argparse.Namespace,
           arrangements: list[str], loads: list[str], command: str, when: str = "") -> str:
    labels = list(dict.fromkeys(row.label for row in rows))
    reference = next((label for label in labels if label.startswith("keras-tensorflow")),
                     labels[0])
    examples = sorted({(row.label, row.train_examples) for row in rows})
    versions = {key: value for row in rows
                for key, value in row.extra.get("versions", {}).items() if key != "backend"}
    notes = args.notes.read_text().strip() + "\n" if args.notes else ""
    parts = [
        SECTION_TITLE, "", *([notes] if notes else []),
        "### How it was measured", "",
        f"Command ({when or time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}):", "",
        f"    {command}", "",
        f"Machine: {os.cpu_count()} cores; `uptime` load averages during the run: "
        f"{', '.join(loads)} (other workers shared the cores: wall times are noisy; CPU "
        f"seconds are the steadier measure). Versions: "
        + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".", "",
        f"Each cell is the median over {args.repeats} repeats (⚠ = repeats differ by more than "
        f"30 %) of the seconds one full-data epoch ({rows[0].full_examples} examples, "
        f"{math.ceil(rows[0].full_examples / BATCH_SIZE)} batches of {BATCH_SIZE}) takes "
        f"after the first, from {args.epochs}-epoch runs. Rows trained per side: "
        + ", ".join(f"{label} {n}" for label, n in examples)
        + " (a subset is scaled by batches).", "",
        "### Wall seconds per epoch", "",
        *epoch_table(rows, labels, arrangements, "steady_epoch", reference), "",
        "### Wall seconds per epoch, best repeat (the one least disturbed by other work)", "",
        *epoch_table(rows, labels, arrangements, "steady_epoch", reference, min), "",
        "### CPU seconds per epoch (all threads of the process)", "",
        *epoch_table(rows, labels, arrangements, "steady_epoch_cpu", reference), "",
        "### The whole study, extrapolated from the wall medians", "",
        *study_totals(rows, labels, arrangements), "",
    ]
    if full_rows:
        parts += ["### One arrangement trained in full (all rows, measured)", "",
                  *full_run_table(full_rows), ""]
    return "\n".join(parts)


def write_section(results_path: Path, section: str) -> None:
    """Add or replace this benchmark's section of RESULTS.md; leave the rest as it is."""
    if not results_path.exists():
        results_path.write_text("# Benchmark results\n\n" + section.rstrip() + "\n")
        return
    text = results_path.read_text()
    start = text.find(SECTION_TITLE)
    if start < 0:
        results_path.write_text(text.rstrip() + "\n\n" + section.rstrip() + "\n")
        return
    end = text.find("\n## ", start + len(SECTION_TITLE))
    rest = "" if end < 0 else text[end:]
    results_path.write_text(text[:start] + section.rstrip() + "\n" + rest)


# -- command line -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per measurement (≥ 2 "
                        "gives a steady epoch)")
    parser.add_argument("--repeats", type=int, default=2, help="measurements per side and "
                        "arrangement (the median is reported)")
    parser.add_argument("--backends", default="tensorflow,torch",
                        help="Keras backends to run, comma-separated (tensorflow, torch)")
    parser.add_argument("--arrangements", default="all", help="'all' or comma-separated names")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for every side")
    parser.add_argument("--rnnlab-threads", default="",
                        help="extra thread counts to run the rnnlab sides at (e.g. '1')")
    parser.add_argument("--train-examples", type=int, default=None,
                        help="training rows for Keras-TF and rnnlab (default: all)")
    parser.add_argument("--keras-torch-examples", type=int, default=96,
                        help="training rows for Keras-torch (it is slow; scaled by batches)")
    parser.add_argument("--full-run", default="", help="arrangement to train on all rows for "
                        "--full-run-epochs on --full-run-sides (measured time, test accuracy)")
    parser.add_argument("--full-run-epochs", type=int, default=STUDY_EPOCHS)
    parser.add_argument("--full-run-sides", default="keras-tensorflow:2,rnnlab:2,rnnlab:1,"
                        "rnnlab-masked:1", help="side:threads pairs for --full-run")
    parser.add_argument("--keras-torch-repeats", type=int, default=None,
                        help="repeats for Keras-torch (default --repeats; it is slow)")
    parser.add_argument("--only", default="", help="run only these sides (e.g. keras-torch), "
                        "to add repeats to a --json dump by hand")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tf-python", default="/tmp/tfvenv/bin/python",
                        help="python of a venv with tensorflow-cpu (not the project's venv)")
    parser.add_argument("--output", type=Path, default=None, help="write the section here")
    parser.add_argument("--results", type=Path, default=None,
                        help="RESULTS.md whose section to add or replace")
    parser.add_argument("--json", type=Path, default=None, help="raw measurements")
    parser.add_argument("--notes", type=Path, default=None,
                        help="Markdown (the answer, in words) to put under the section title")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="re-render the report from a --json dump instead of measuring")
    # worker mode (internal): one rnnlab training in this process
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--vocab", help=argparse.SUPPRESS)
    parser.add_argument("--arrangement", help=argparse.SUPPRESS)
    parser.add_argument("--masked", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def plan(args: argparse.Namespace) -> list[tuple[str, int]]:
    """(side, threads) in the order they run for each arrangement."""
    sides: list[tuple[str, int]] = []
    for backend in filter(None, args.backends.split(",")):
        if backend not in KERAS_SIDES:
            raise SystemExit(f"--backends: unknown backend {backend!r}; allowed: tensorflow, "
                             f"torch")
        if backend == "tensorflow" and not Path(args.tf_python).exists():
            print(f"! {args.tf_python} missing: skipping Keras-TensorFlow", file=sys.stderr)
            continue
        sides.append((KERAS_SIDES[backend], args.threads))
    for threads in [args.threads, *map(int, filter(None, args.rnnlab_threads.split(",")))]:
        sides += [("rnnlab", threads), ("rnnlab-masked", threads)]
    if args.only:
        sides = [(side, threads) for side, threads in sides if side in args.only.split(",")]
    return sides


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(rnnlab_worker(args)), flush=True)
        return 0
    from rnnlab.models import SEED_ARRANGEMENTS

    arrangements = (list(SEED_ARRANGEMENTS) if args.arrangements == "all"
                    else args.arrangements.split(","))
    if args.from_json:
        return rerender(args, arrangements)
    sides = plan(args)
    prepared = prepare_arrays()
    full_examples = len(prepared.train)
    rows: list[Measurement] = []
    full_rows: list[Measurement] = []
    loads = [load_average()]
    with tempfile.TemporaryDirectory(prefix="bench_study_") as tmp:
        directory = Path(tmp)
        npz_for = {
            "keras-torch": write_arrays(prepared, directory, args.keras_torch_examples),
            "default": write_arrays(prepared, directory, args.train_examples),
            "full": write_arrays(prepared, directory, None),
        }
        vocab = directory / "vocab.json"
        keras_torch_repeats = (args.repeats if args.keras_torch_repeats is None
                               else args.keras_torch_repeats)
        total = sum(len(arrangements) * (keras_torch_repeats if side == "keras-torch"
                                         else args.repeats) for side, _ in sides)
        done = 0
        for repeat in range(args.repeats):  # repeats interleaved: noise spreads over sides
            for name in arrangements:
                for side, threads in sides:
                    if side == "keras-torch" and repeat >= keras_torch_repeats:
                        continue
                    npz = npz_for.get(side, npz_for["default"])
                    row = run_worker(side, name, npz=npz, vocab=vocab, epochs=args.epochs,
                                     threads=threads, seed=args.seed + repeat,
                                     full_examples=full_examples, tf_python=args.tf_python)
                    rows.append(row)
                    done += 1
                    print(f"[{done}/{total}] {row.label:24s} {name:14s} "
                          f"epochs {[round(s, 2) for s in row.epoch_seconds]} s, "
                          f"full epoch {row.steady_epoch:.1f} s, cpu "
                          f"{row.steady_epoch_cpu:.1f} s, load {load_average()}", flush=True)
            loads.append(load_average())
        if args.full_run:
            for pair in args.full_run_sides.split(","):
                side, threads_text = pair.split(":")
                threads = int(threads_text)
                row = run_worker(side, args.full_run, npz=npz_for["full"], vocab=vocab,
                                 epochs=args.full_run_epochs, threads=threads, seed=args.seed,
                                 full_examples=full_examples, tf_python=args.tf_python)
                full_rows.append(row)
                print(f"[full] {row.label:24s} fit {row.fit_seconds:.1f} s, test accuracy "
                      f"{row.test_accuracy:.3f}", flush=True)
            loads.append(load_average())
    command = "python benchmarks/bench_study_vs_keras.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    section = render(rows, full_rows, args, arrangements, loads, command)
    print(section)
    if args.output:
        args.output.write_text(section)
    if args.results:
        write_section(args.results, section)
    if args.json:
        args.json.write_text(json.dumps({
            "command": command, "loads": loads, "rows": [row.__dict__ for row in rows],
            "full_rows": [row.__dict__ for row in full_rows]}, indent=1))
    return 0


def rerender(args: argparse.Namespace, arrangements: list[str]) -> int:
    """Write the report again from a ``--json`` dump (same tables, no measuring)."""
    dump = json.loads(args.from_json.read_text())
    if isinstance(dump, list):  # an early dump format: rows then full-run rows, no metadata
        dump = {"rows": [r for r in dump if len(r["epoch_seconds"]) == args.epochs],
                "full_rows": [r for r in dump if len(r["epoch_seconds"]) != args.epochs],
                "loads": [], "command": ""}
    rows = [Measurement(**row) for row in dump["rows"]]
    full_rows = [Measurement(**row) for row in dump["full_rows"]]
    section = render(rows, full_rows, args, arrangements, dump["loads"], dump["command"],
                     dump.get("when", ""))
    print(section)
    if args.output:
        args.output.write_text(section)
    if args.results:
        write_section(args.results, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
