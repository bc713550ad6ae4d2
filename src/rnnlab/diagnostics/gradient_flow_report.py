"""Gradient-flow measurements as a decay table, a log-scale plot, CSV and JSON files.

    out/gradient_flow.png          median ‖∂L/∂h_{T−1−k}‖ / its k = 0 value, quartile band,
                                   one panel per stage (init, trained), one line per model
    out/gradient_flow_decay.csv    per model, stage, seed and curve: decay rate, lag < 1e-3
    out/gradient_flow_curves.csv   per model, stage, seed, curve and lag: median, quartiles
    out/gradient_flow.json         all of it, and the command that measured it

Every file is rendered in memory first and then written under a temporary name and renamed,
so a failure leaves no half-written output.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab._atomic import write_atomically
from rnnlab.diagnostics.gradient_flow import LagCurve, quartiles
from rnnlab.diagnostics.gradient_flow_setups import Measured

FILES = ("gradient_flow.png", "gradient_flow_decay.csv", "gradient_flow_curves.csv",
         "gradient_flow.json")
_DECAY_FIELDS = ("model", "stage", "seed", "trained_for", "task_loss", "curve", "layer_name",
                 "layer", "direction", "quantity", "decay_rate", "factor_per_step",
                 "lag_below_threshold", "median_at_0")
_CURVE_FIELDS = ("model", "stage", "seed", "curve", "lag", "median", "lower_quartile",
                 "upper_quartile", "count")


def _factor(rate: float) -> float:
    return math.exp(rate) if math.isfinite(rate) else math.nan


def decay_rows(measured: Sequence[Measured]) -> list[dict[str, Any]]:
    """One row per measurement and curve (see ``_DECAY_FIELDS``)."""
    rows = []
    for item in measured:
        for curve in item.flow.curves:
            rate = curve.decay_rate
            rows.append({
                "model": item.model, "stage": item.stage, "seed": item.seed,
                "trained_for": item.trained_for, "task_loss": item.task_loss, "curve": curve.label,
                "layer_name": curve.layer_name, "layer": curve.layer,
                "direction": curve.direction, "quantity": curve.quantity,
                "decay_rate": rate, "factor_per_step": _factor(rate),
                "lag_below_threshold": curve.lag_below_threshold,
                "median_at_0": float(curve.median[0]),
            })
    return rows


def pooled(measured: Sequence[Measured], model: str, stage: str, label: str) -> LagCurve:
    """One curve over every seed's sequences (their norms side by side)."""
    curves = [curve for item in measured if (item.model, item.stage) == (model, stage)
              for curve in item.flow.curves if curve.label == label]
    first = curves[0]
    return LagCurve(first.layer_name, first.layer, first.direction, first.quantity,
                    np.concatenate([curve.norms for curve in curves]), first.threshold)


def _groups(measured: Sequence[Measured], quantity: str) -> list[tuple[str, str, str]]:
    """(model, stage, curve label) in the order measured, for curves of ``quantity``."""
    seen: dict[tuple[str, str, str], None] = {}
    for item in measured:
        for curve in item.flow.curves:
            if curve.quantity == quantity:
                seen[(item.model, item.stage, curve.label)] = None
    return list(seen)


def format_table(measured: Sequence[Measured], quantity: str = "hidden") -> str:
    """The decay table of ``quantity`` curves: per model and stage, the mean over seeds (and
    the range when there are several) of the decay rate, the factor per step e^rate, the lag
    where the median falls below 1e-3 of its k = 0 value, and the mean loss per sequence."""
    rows = [r for r in decay_rows(measured) if r["quantity"] == quantity]
    several_curves = len({r["curve"] for r in rows}) > 1
    header = ["model", "stage", *(["curve"] if several_curves else []), "seeds",
              "decay/step", "factor/step", "lag<1e-3", "loss"]
    lines = []
    for model, stage, label in _groups(measured, quantity):
        group = [r for r in rows if (r["model"], r["stage"], r["curve"]) == (model, stage, label)]
        rates = [r["decay_rate"] for r in group]
        lags = [r["lag_below_threshold"] for r in group]
        losses = [r["task_loss"] for r in group]
        trained_for = group[0]["trained_for"]
        stage_text = f"{stage} ({trained_for})" if trained_for else stage
        lines.append([model, stage_text, *([label] if several_curves else []), str(len(group)),
                      _spread(rates, "{:+.4f}"), _spread([_factor(r) for r in rates], "{:.4f}"),
                      _lag_text(lags), _spread(losses, "{:.3f}")])
    widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in [header, *lines]]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)


def _spread(values: Sequence[float], form: str) -> str:
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return "n/a"
    mean = form.format(sum(finite) / len(finite))
    if len(finite) == 1:
        return mean
    return f"{mean} [{form.format(min(finite))}, {form.format(max(finite))}]"


def _lag_text(lags: Sequence[int | None]) -> str:
    return ",".join("never" if lag is None else str(lag) for lag in lags)


def curve_rows(measured: Sequence[Measured]) -> list[dict[str, Any]]:
    rows = []
    for item in measured:
        for curve in item.flow.curves:
            median, lower, upper, count = (curve.median, curve.lower_quartile,
                                           curve.upper_quartile, curve.count)
            for lag in range(len(median)):
                rows.append({"model": item.model, "stage": item.stage, "seed": item.seed,
                             "curve": curve.label, "lag": lag, "median": median[lag],
                             "lower_quartile": lower[lag], "upper_quartile": upper[lag],
                             "count": int(count[lag])})
    return rows


def _csv(rows: list[dict[str, Any]], fields: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(row[key]) for key in fields})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(value) else f"{float(value):.6g}"
    return value


def plot_png(measured: Sequence[Measured], quantity: str = "hidden", title: str = "") -> bytes:
    """Log-scale: each model's median (over every seed's sequences) divided by its k = 0
    value, with the quartile band; one panel per stage; the 1e-3 threshold dashed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = _groups(measured, quantity)
    stages = list(dict.fromkeys(stage for _, stage, _ in groups))
    figure = Figure(figsize=(6.5 * max(len(stages), 1), 4.6))
    FigureCanvasAgg(figure)
    axes_list = figure.subplots(1, max(len(stages), 1), squeeze=False, sharey=True)[0]
    symbol = {"hidden": "h", "cell": "c", "input": "x"}.get(quantity, quantity)
    several = len({label for _, _, label in groups}) > 1
    for axes, stage in zip(axes_list, stages):
        for model, group_stage, label in groups:
            if group_stage != stage:
                continue
            curve = pooled(measured, model, stage, label)
            lower, median, upper = quartiles(curve.norms)
            start = _reference_lag(median)
            if start is None:
                continue
            scale = median[start]
            lags = curve.lags
            name = f"{model} · {label}" if several else model
            line, = axes.plot(lags, median / scale, label=name, linewidth=1.6)
            axes.fill_between(lags, lower / scale, upper / scale, color=line.get_color(),
                              alpha=0.15, linewidth=0)
        axes.axhline(curve_threshold(measured), color="0.4", linestyle="--", linewidth=0.8)
        axes.set_yscale("log")
        axes.set_xlabel("lag k (steps before the last)")
        axes.set_title(stage)
        axes.grid(alpha=0.3, which="major")
    axes_list[0].set_ylabel(f"median ‖∂L/∂{symbol}_(T−1−k)‖ / value at k=0")
    if groups:
        axes_list[-1].legend(fontsize=8, loc="lower left")
    if title:
        figure.suptitle(title, fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _reference_lag(median: np.ndarray) -> int | None:
    usable = np.flatnonzero(np.isfinite(median) & (median > 0))
    return int(usable[0]) if usable.size else None


def curve_threshold(measured: Sequence[Measured]) -> float:
    for item in measured:
        for curve in item.flow.curves:
            return curve.threshold
    return 1e-3


def report_dict(measured: Sequence[Measured], command: str = "") -> dict[str, Any]:
    return {
        "command": command,
        "decay": decay_rows(measured),
        "measurements": [{"model": item.model, "stage": item.stage, "seed": item.seed,
                          "trained_for": item.trained_for, "task_loss": item.task_loss,
                          **item.flow.to_dict()} for item in measured],
    }


def write_report(out_dir: str | os.PathLike[str], measured: Sequence[Measured], *,
                 command: str = "", quantity: str = "hidden", title: str = "") -> list[Path]:
    """Write :data:`FILES` into ``out_dir`` (created if missing); returns their paths."""
    from rnnlab.train.run_files import dumps_json

    if not measured:
        raise ValueError("nothing was measured: no files to write")
    contents = {
        "gradient_flow.png": plot_png(measured, quantity, title),
        "gradient_flow_decay.csv": _csv(decay_rows(measured), _DECAY_FIELDS).encode(),
        "gradient_flow_curves.csv": _csv(curve_rows(measured), _CURVE_FIELDS).encode(),
        "gradient_flow.json": (dumps_json(report_dict(measured, command), indent=1)
                               + "\n").encode(),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in contents.items():
        paths.append(write_atomically(out / name, data))
    return paths

