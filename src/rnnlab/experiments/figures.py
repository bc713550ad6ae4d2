"""The report's figures, rendered to PNG bytes with matplotlib's Agg canvas.

No pyplot: figures are built as ``matplotlib.figure.Figure`` objects on an Agg canvas,
so rendering never depends on (or changes) the process's global backend and works on
machines without a display. Accuracies come in as fractions and are drawn in percent.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .questions import QuestionAnswer

__all__ = ["accuracy_ranges_png", "differences_png", "learning_curves_png"]

_DPI = 100


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    return buffer.getvalue()


def _empty(message: str) -> bytes:
    """A small figure that says why there is nothing to draw (the report keeps its layout)."""
    figure = Figure(figsize=(6, 1.2))
    axes = figure.add_subplot()
    axes.axis("off")
    axes.text(0.5, 0.5, message, ha="center", va="center")
    return _png(figure)


def accuracy_ranges_png(accuracies: Mapping[str, Sequence[float]], title: str) -> bytes:
    """Per arrangement: each run's final test accuracy (small dots), the min-max range
    (line) and the mean (large dot). ``accuracies`` maps arrangement -> run values."""
    labelled = [(label, values) for label, values in accuracies.items() if len(values) > 0]
    if not labelled:
        return _empty("no finished runs yet")
    figure = Figure(figsize=(7, 0.9 + 0.35 * len(labelled)))
    axes = figure.add_subplot()
    for row, (_, values) in enumerate(labelled):
        percent = [100 * value for value in values]
        axes.plot([min(percent), max(percent)], [row, row], color="0.6", linewidth=2, zorder=1)
        axes.scatter(percent, [row] * len(percent), s=12, color="0.35", zorder=2)
        mean = sum(percent) / len(percent)
        axes.scatter([mean], [row], s=60, color="tab:blue", zorder=3)
    axes.set_yticks(range(len(labelled)), [label for label, _ in labelled])
    axes.invert_yaxis()  # first arrangement on top, as in the table
    axes.set_xlabel("final test accuracy (%): runs, min-max range, mean")
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)


def learning_curves_png(
    curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], title: str
) -> bytes:
    """Validation accuracy per epoch (mean over runs), one line per arrangement.

    ``curves`` maps arrangement -> (epochs, mean validation accuracy per epoch). LSTM
    lines are solid and GRU lines dashed, so 12 lines stay tellable apart.
    """
    drawable = {label: curve for label, curve in curves.items() if len(curve[0]) > 0}
    if not drawable:
        return _empty("no validation accuracy recorded per epoch")
    figure = Figure(figsize=(8, 4.5))
    axes = figure.add_subplot()
    # tab20 gives 20 distinguishable colours; the default cycle repeats after 10.
    palette = colormaps["tab20"]
    colours = [palette(index % 20) for index in range(len(drawable))]
    for colour, (label, (epochs, accuracy)) in zip(colours, drawable.items(), strict=True):
        style = "--" if label.endswith("GRU") else "-"
        percent = [100 * value for value in accuracy]
        axes.plot(epochs, percent, style, marker="o", markersize=3, color=colour, label=label)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("validation accuracy (%), mean over runs")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _png(figure)


def differences_png(answers: Sequence[QuestionAnswer]) -> bytes:
    """Forest plot: every pair's mean paired difference (right - left) with its 95 %
    interval, and each question's pooled answer as a diamond; a line marks 0."""
    rows: list[tuple[str, float, float, float, bool]] = []  # label, mean, low, high, pooled
    several_scopes = len({answer.scope for answer in answers}) > 1
    for answer in answers:
        prefix = answer.question.key + (f" ({answer.scope})" if several_scopes else "")
        for comparison in answer.comparisons:
            interval = comparison.interval
            low, high = (interval.low, interval.high) if interval else (math.nan, math.nan)
            label = f"{prefix}: {comparison.right} - {comparison.left}"
            rows.append((label, comparison.mean_difference, low, high, False))
        pooled = answer.pooled
        interval = pooled.interval
        low, high = (interval.low, interval.high) if interval else (math.nan, math.nan)
        rows.append((f"{prefix}: pooled", pooled.mean_difference, low, high, True))
    rows = [row for row in rows if not math.isnan(row[1])]
    if not rows:
        return _empty("no paired runs to compare yet")
    figure = Figure(figsize=(8, 0.9 + 0.3 * len(rows)))
    axes = figure.add_subplot()
    for position, (_, mean, low, high, pooled) in enumerate(rows):
        colour = "tab:red" if pooled else "tab:blue"
        if not math.isnan(low):
            axes.plot([100 * low, 100 * high], [position, position], color=colour, linewidth=1.5)
        marker = "D" if pooled else "o"
        axes.scatter([100 * mean], [position], marker=marker, color=colour, s=30, zorder=3)
    axes.axvline(0, color="0.3", linewidth=1)
    axes.set_yticks(range(len(rows)), [row[0] for row in rows], fontsize="small")
    axes.invert_yaxis()
    axes.set_xlabel("difference in test accuracy, right - left (percentage points), 95 % CI")
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)
