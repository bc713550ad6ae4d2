"""The report sections of a toy-task study: loss against steps beside the baseline, per T.

Built from the store alone, like every report section: a run's records are its epochs (record
k = after ``k · eval_every`` steps, from the run's stored config), the baseline is in every
run's config. For each task and length (the store's *dataset*, e.g. ``adding-T200``)::

    table    cell | runs done | final test loss mean, std, min, max | accuracy | first step
             below the baseline, per run ("never" when it stays at or above it)
    figure   test loss against steps, log scale: one line per run, the baseline dashed
    table    paired differences of the final test loss between cells (by run index)

A quote-detection run also lists the units that best separate "inside a quotation" from
"outside" on held-out text (the ``units.json`` and ``units.png`` its run wrote beside its
checkpoint).
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure as MplFigure

from . import figures
from .document import Block, Figure, Heading, Paragraph, Table
from .report_sections import _slug
from .stats import paired_comparison, summarize
from .store_records import EpochRow, RunRow
from .toy_study import TOY_SCORES
from .wording import MISSING, percent

__all__ = ["crossing_step", "toy_method_section", "toy_sections"]

TASK_TITLES = {"adding": "Adding problem (MSE)", "copy": "Copy memory (cross-entropy per step)",
               "quotes": "Quote detection: character LM (cross-entropy per character)"}


_STYLES = (":", "-", "--", "-.")


def crossing_step(curve: Sequence[tuple[int, float]], baseline: float) -> int | None:
    """The first step whose test loss is below ``baseline``, or None if none is.

    >>> crossing_step([(0, 2.3), (100, 0.18), (200, 0.16)], 0.17)
    200
    """
    return next((step for step, loss in curve if loss < baseline), None)


def _number(value: float | None) -> str:
    return MISSING if value is None or math.isnan(value) else f"{value:.4g}"


def _curves(runs: Sequence[RunRow], epochs_by_run: dict[int, list[EpochRow]]
            ) -> dict[int, list[tuple[int, float]]]:
    curves = {}
    for run in runs:
        every = run.config["training"]["eval_every"]
        curves[run.id] = [(row.epoch * every, row.test_loss) for row in epochs_by_run[run.id]
                          if row.test_loss is not None]
    return curves


def _curves_png(cells: Sequence[str], runs: Sequence[RunRow],
                curves: dict[int, list[tuple[int, float]]], baseline: float, title: str) -> bytes:
    drawable = [run for run in runs if curves.get(run.id)]
    if not drawable:
        return figures._empty("no records yet")
    figure = MplFigure(figsize=(8, 4.5))
    axes = figure.add_subplot()
    palette = colormaps["tab10"]
    for index, cell in enumerate(cells):
        labelled = False
        for run in (run for run in drawable if run.arrangement == cell):
            steps, losses = zip(*curves[run.id], strict=True)
            # One style per cell as well as a colour: runs stuck on the baseline overlap.
            axes.plot(steps, losses, _STYLES[index % len(_STYLES)], color=palette(index % 10),
                      alpha=0.8, linewidth=1.4, label=None if labelled else cell)
            labelled = True
    axes.axhline(baseline, color="0.2", linestyle="--", linewidth=1,
                 label=f"baseline {baseline:.4g}")
    axes.set_yscale("log")
    axes.set_xlabel("training step")
    axes.set_ylabel("test loss (one line per run)")
    axes.set_title(title)
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return figures._png(figure)


def _condition_blocks(condition: str, runs: Sequence[RunRow],
                      epochs_by_run: dict[int, list[EpochRow]]) -> tuple[list[Block], Figure]:
    task = runs[0].config["task"]["task"]
    baseline = float(runs[0].config["baseline"])
    cells = list(dict.fromkeys(run.arrangement for run in runs))
    run_indices = sorted({run.run_index for run in runs})
    curves = _curves(runs, epochs_by_run)
    rows, final_loss = [], defaultdict(dict)
    for cell in cells:
        of_cell = [run for run in runs if run.arrangement == cell]
        done = [run for run in of_cell if run.status == "done" and run.test_loss is not None]
        for run in done:
            final_loss[cell][run.run_index] = run.test_loss
        losses = summarize([run.test_loss for run in done])
        accuracy = summarize([run.test_accuracy for run in done])
        by_index = {run.run_index: run for run in of_cell}
        crossings: dict[float, list[str]] = {1.0: [], 0.1: []}
        for index in run_indices:
            run = by_index.get(index)
            for fraction, found in crossings.items():
                if run is None or not curves.get(run.id):
                    found.append(MISSING)
                    continue
                step = crossing_step(curves[run.id], fraction * baseline)
                found.append("never" if step is None else str(step))
        rows.append((f"`{cell}`", f"{losses.n}/{len(of_cell)}", _number(losses.mean),
                     _number(losses.std), _number(losses.minimum), _number(losses.maximum),
                     percent(accuracy.mean), " / ".join(crossings[1.0]),
                     " / ".join(crossings[0.1])))
    figure = Figure(f"figures/toy_loss_{_slug(condition)}.png",
                    _curves_png(cells, runs, curves, baseline, f"{condition}: test loss"),
                    f"{condition}: test loss against training steps, one line per run; "
                    f"dashed: the baseline {baseline:.4g}")
    blocks: list[Block] = [
        Heading(2, f"{TASK_TITLES.get(task, task)}: {condition}"),
        Paragraph(f"Baseline (the best model that remembers nothing): {baseline:.4g}."),
        Table(("cell", "runs done", "final test loss mean", "std", "min", "max",
               f"final test accuracy (% {TOY_SCORES[task][1]})" if task in TOY_SCORES
               else "final test accuracy (%)",
               "first step below baseline, run " +
               " / ".join(map(str, run_indices)), "first step below baseline / 10"),
              tuple(rows),
              caption="Final test loss over finished runs (std: sample, n − 1); a step is the "
                      "first record whose test loss is below the baseline (or a tenth of it); "
                      "never: not within the run's steps"),
        figure,
    ]
    pairs = [paired_comparison(left, final_loss[left], right, final_loss[right])
             for left, right in itertools.combinations(cells, 2)]
    if pairs:
        blocks.append(Table(
            ("right vs left", "paired runs", "mean difference (right − left)", "95 % CI",
             "lower loss"),
            tuple((f"`{p.right}` vs `{p.left}`", str(p.n), _number(p.mean_difference),
                   _interval(p.interval), _lower(p))
                  for p in pairs),
            caption="Final test loss, paired by run index (a negative difference: the right "
                    "cell ends lower)"))
    if task == "quotes":
        blocks += _unit_blocks(runs)
    return blocks, figure


def _interval(interval) -> str:
    if interval is None:
        return MISSING
    return f"[{interval.low:.4g}, {interval.high:.4g}]"


def _lower(pair) -> str:
    if pair.interval is None:
        return "too few paired runs"
    if pair.interval.high < 0:
        return pair.right
    if pair.interval.low > 0:
        return pair.left
    return "no clear difference"


def _unit_blocks(runs: Sequence[RunRow]) -> list[Block]:
    """The quote units each finished run found (read from its run directory)."""
    rows, pictures = [], []
    for run in runs:
        if run.status != "done" or not run.checkpoint_path:
            continue
        found = Path(run.checkpoint_path).parent / "units.json"
        if not found.is_file():
            continue
        units = json.loads(found.read_text(encoding="utf-8"))
        for unit in units["units"][:3]:
            rows.append((f"`{run.arrangement}`", str(run.run_index), unit["name"],
                         f"{unit['auroc']:.4f}", f"{unit['pearson']:+.3f}"))
        if "selected_on_valid" in units:  # chosen on the valid text, scored on the test text
            selected = units["selected_on_valid"]
            rows.append((f"`{run.arrangement}`", str(run.run_index),
                         f"{selected['name']}, selected on the valid text",
                         f"{selected['test_auroc']:.4f}", "–"))
        if "probe" in units:  # every unit at once, fitted on the valid text
            probe = units["probe"]
            rows.append((f"`{run.arrangement}`", str(run.run_index),
                         f"linear probe of all {probe['features']} units",
                         f"{probe['auroc']:.4f}", "–"))
        picture = found.with_name("units.png")
        if picture.is_file() and not pictures:
            pictures.append(Figure(f"figures/quote_unit_run{run.run_index}.png",
                                   picture.read_bytes(), units.get("caption", "quote unit")))
    if not rows:
        return [Paragraph("No quote-unit search finished yet.")]
    return [Heading(3, "Units that track \"inside a quotation\" (held-out text)"),
            Table(("cell", "run", "unit", "AUROC", "Pearson"), tuple(rows),
                  caption="The three best units of each run on the test text, ranked by "
                          "|AUROC − 0.5| (rnnlab.diagnostics.unit_search.rank_units); the "
                          "best unit of the valid text with its test AUROC (chosen and "
                          "scored on different texts: no selection bias); and a linear "
                          "probe of all units together (Fisher's discriminant of h and "
                          "tanh(c), fitted on the valid text): far above the best unit, the "
                          "quotation is spread over many units"),
            *pictures]


def toy_sections(runs: Sequence[RunRow], epochs: Sequence[EpochRow]
                 ) -> tuple[list[Block], list[Figure]]:
    """Every condition's table, curve figure and paired differences (module docstring)."""
    epochs_by_run: dict[int, list[EpochRow]] = defaultdict(list)
    for row in epochs:
        epochs_by_run[row.run_id].append(row)
    by_condition: dict[str, list[RunRow]] = defaultdict(list)
    for run in runs:
        by_condition[run.dataset].append(run)
    blocks: list[Block] = []
    figure_list: list[Figure] = []
    for condition in sorted(by_condition, key=_condition_order):
        condition_blocks, figure = _condition_blocks(condition, by_condition[condition],
                                                     epochs_by_run)
        blocks += condition_blocks
        figure_list.append(figure)
        figure_list += [block for block in condition_blocks
                        if isinstance(block, Figure) and block is not figure]
    return blocks, figure_list


def toy_method_section() -> list[Block]:
    return [Heading(2, "Method"), Paragraph(
        "Each run trains one cell with one seed; run r of every cell uses the same seed, so "
        "the same training batches and the same held-out sequences. A record every "
        "eval_every steps evaluates the fixed test set (record 0: at initialisation). The "
        "baseline is the loss of the best model that remembers nothing: MSE 1/6 for the "
        "adding problem (always predict 1), 10·ln 8/(T + 20) for copy memory, the training "
        "text's character frequencies for the language model. Paired differences of the "
        "final test loss use a 95 % Student-t interval over run indices.")]


def _condition_order(condition: str) -> tuple[str, int]:
    task, _, length = condition.partition("-T")
    return task, int(length) if length.isdigit() else 0
