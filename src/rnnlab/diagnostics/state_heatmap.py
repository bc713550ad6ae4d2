"""A PNG heatmap of one layer's states for reports: units × tokens, best-matching units first.

    heatmap_png(trace, kind="h", direction=0, track=track)   → PNG bytes

With a track (per-token 0/1, e.g. from ``regex_track``) the units are ranked by
:func:`~rnnlab.diagnostics.unit_search.rank_units` and the best ``max_units`` drawn, each
labelled with its AUROC and correlation, under a strip that marks the tracked tokens; without
one, the first ``max_units`` units in index order. Drawn with matplotlib's Agg canvas (no
pyplot, no display needed).
"""

from __future__ import annotations

import io

import numpy as np

from rnnlab.diagnostics.states import StateTrace
from rnnlab.diagnostics.unit_search import rank_units

__all__ = ["heatmap_png"]


def heatmap_png(trace: StateTrace, *, kind: str = "h", direction: str | int = 0, track=None,
                max_units: int = 24, max_tokens: int = 160, title: str | None = None) -> bytes:
    """PNG bytes of ``trace.states(kind, direction)`` for the first ``max_tokens`` tokens.

    track: (tokens,) 0/1 or float, or None; units are then ranked on all tokens, not only
    the drawn ones. Token labels are drawn when there are at most 100 tokens.
    """
    # matplotlib on first use: importing rnnlab.diagnostics must not pay for it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import Normalize, TwoSlopeNorm
    from matplotlib.figure import Figure

    if max_units < 1 or max_tokens < 1:
        raise ValueError(f"max_units and max_tokens must be >= 1, got {max_units}, {max_tokens}")
    states = trace.states(kind, direction)  # (tokens, units)
    name = trace.direction(direction).name
    scores = None
    if track is not None:
        scores = rank_units(states, track)[:max_units]
        units = [score.unit for score in scores]
    else:
        units = list(range(min(max_units, states.shape[1])))
    shown = slice(0, min(max_tokens, states.shape[0]))
    values = states[shown, units].T  # (units, tokens)
    tokens = trace.tokens[shown]

    width = min(18.0, 2.5 + 0.16 * len(tokens))
    height = 1.4 + 0.24 * len(units) + (0.3 if track is not None else 0)
    figure = Figure(figsize=(width, height))
    ratios = [1, 18 * len(units) / 24 + 1] if track is not None else [1]
    # A column of its own for the colour bar, so the pattern strip lines up with the map.
    grid = figure.add_gridspec(len(ratios), 2, height_ratios=ratios, width_ratios=[70, 1],
                               hspace=0.05, wspace=0.01)
    axes = figure.add_subplot(grid[-1, 0])
    low, high = float(np.min(values)), float(np.max(values))
    if low < 0 < high:
        norm, cmap = TwoSlopeNorm(0.0, low, high), "RdBu_r"
    else:
        norm, cmap = Normalize(min(low, 0.0), max(high, 1e-6)), "Purples"
    image = axes.imshow(values, aspect="auto", interpolation="nearest", cmap=cmap, norm=norm)
    if scores is not None:
        labels = [f"unit {s.unit}  AUROC {s.auroc:.2f}  r {s.pearson:+.2f}" for s in scores]
    else:
        labels = [f"unit {unit}" for unit in units]
    axes.set_yticks(range(len(units)), labels, fontsize=7)
    if len(tokens) <= 100:
        axes.set_xticks(range(len(tokens)),
                        [("·" if token == " " else token) for token in tokens],
                        fontsize=7, rotation=90 if max(map(len, tokens)) > 1 else 0)
    else:
        axes.set_xlabel("token")
    figure.colorbar(image, cax=figure.add_subplot(grid[-1, 1]), label=kind)
    if track is not None:
        strip = figure.add_subplot(grid[0, 0], sharex=axes)
        marks = np.asarray(track, dtype=float)[shown][None, :]
        strip.imshow(marks, aspect="auto", interpolation="nearest", cmap="Oranges", vmin=0,
                     vmax=max(1.0, float(marks.max())))
        strip.set_yticks([0], ["pattern"], fontsize=7)
        strip.tick_params(labelbottom=False, bottom=False)
    figure.suptitle(title or f"{kind} of {name} ({trace.direction(direction).cell})",
                    fontsize=9)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()
