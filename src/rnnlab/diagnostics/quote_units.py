"""Find the units of a character language model that track "inside a quotation".

Seed 003 / Karpathy et al. (2015): run the trained model over held-out text, take every
unit's hidden state ``h`` and (LSTM) cell state ``c`` at every character, and rank the units
by how well they separate characters inside a quotation from those outside (AUROC, with
:func:`rnnlab.diagnostics.unit_search.rank_units`). The track is
:func:`rnnlab.data.quotes.quote_track`: 1 where a quotation is open after the character.

    find_quote_units(model, data)          -> QuoteUnits, best unit first
    write_quote_units(model, data, out)    -> units.json, units.png (the text coloured by the
                                              best unit), states.html (the explorer)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rnnlab.data.quotes import quote_track
from rnnlab.diagnostics.states import StateTrace, trace_model
from rnnlab.diagnostics.unit_search import UnitScore, rank_units

__all__ = ["QuoteUnits", "find_quote_units", "text_picture_png", "write_quote_units"]

EXPLORER_CHARS = 1500  # the explorer page carries every value: keep it a few MB


@dataclass(frozen=True)
class QuoteUnits:
    """Ranked units (``"c 17"``: cell state unit 17; ``"L1 c 17"`` in layer 1 of a stacked
    model) with their scores, and the trace."""

    names: tuple[str, ...]
    scores: tuple[UnitScore, ...]
    trace: StateTrace
    track: np.ndarray  # (tokens,) 0/1
    text: str

    def best(self) -> tuple[str, UnitScore]:
        return self.names[0], self.scores[0]

    def values(self, name: str) -> np.ndarray:
        """(tokens,) activations of the unit called ``name`` (``"c 17"``; in a stacked
        model ``"L1 c 17"``: layer 1's cell state unit 17)."""
        parts = name.split()
        layer = int(parts.pop(0)[1:]) if len(parts) == 3 else 0
        kind, unit = parts
        index = next(i for i, d in enumerate(self.trace.directions) if d.layer == layer)
        return self.trace.states(kind, index)[:, int(unit)]


def find_quote_units(model: torch.nn.Module, data, *, text: str | None = None) -> QuoteUnits:
    """Rank the ``h`` and ``c`` units of every layer of ``model`` on ``text`` (default:
    ``data.test_text``, held out).

    ``data``: the quotes task's :class:`~rnnlab.train.toy_tasks.ToyData` (its alphabet
    encodes the text). Raises ValueError when the text holds no quotation.
    """
    text = data.test_text if text is None else text
    track = quote_track(text)
    if not 0 < track.mean() < 1:
        raise ValueError("the held-out text has no quotation (no \" pair), so no unit can be "
                         "tested for tracking one; give a text with quoted speech")
    ids = torch.from_numpy(data.encode(text))
    trace = replace(trace_model(model, ids, tokens=tuple(text)), text=text,
                    spans=tuple((index, index + 1) for index in range(len(text))))
    stacked = len(trace.directions) > 1
    ranked = []
    for index, direction in enumerate(trace.directions):
        layer = f"L{direction.layer} " if stacked else ""  # one layer keeps the short names
        for kind in ("h", "c"):
            if kind in direction.values:
                ranked += [(f"{layer}{kind} {score.unit}", score)
                           for score in rank_units(trace.states(kind, index), track)]
    ranked.sort(key=lambda item: -item[1].strength)  # stable: ties keep layer, kind, unit order
    return QuoteUnits(tuple(name for name, _ in ranked), tuple(score for _, score in ranked),
                      trace, track, text)


def text_picture_png(text: str, values: np.ndarray, title: str, *, max_chars: int = 700,
                     columns: int = 90) -> bytes:
    """The text with each character's background coloured by ``values`` (Karpathy's view):
    blue low, red high; at most ``max_chars`` characters in lines of ``columns``."""
    shown, values = text[:max_chars], np.asarray(values[:max_chars], dtype=float)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.full_like(values, 0.5)
    lines, line, column = [], [], 0
    for character, value in zip(shown, scaled, strict=True):
        if character == "\n" or column == columns:
            lines.append(line)
            line, column = [], 0
            if character == "\n":
                continue
        line.append((character, value))
        column += 1
    lines.append(line)
    figure = Figure(figsize=(columns * 0.105, 0.6 + 0.24 * len(lines)))
    axes = figure.add_axes((0, 0, 1, 1 - 0.4 / (0.6 + 0.24 * len(lines))))
    axes.set_xlim(0, columns)
    axes.set_ylim(len(lines), 0)
    axes.axis("off")
    from matplotlib import colormaps

    colours = colormaps["coolwarm"]
    for row, characters in enumerate(lines):
        for position, (character, value) in enumerate(characters):
            axes.add_patch(_box(position, row, colours(value)))
            axes.text(position + 0.5, row + 0.55, character, ha="center", va="center",
                      family="monospace", fontsize=8)
    figure.suptitle(title, fontsize=9)
    FigureCanvasAgg(figure)
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def _box(x: float, y: float, colour) -> object:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 1, 1, facecolor=colour, edgecolor="none")


def write_quote_units(model: torch.nn.Module, data, out_dir: str | os.PathLike[str], *,
                      top: int = 10) -> QuoteUnits:
    """Write ``units.json`` (the ``top`` units), ``units.png`` and ``states.html``."""
    from rnnlab.diagnostics.explorer_html import write_explorer

    out = Path(out_dir)
    found = find_quote_units(model, data)
    name, score = found.best()
    window = _window_with_quotes(found.track)
    caption = (f"Unit {name}, the best of {len(found.names)} at separating inside/outside "
               f"a quotation on {len(found.text):,} held-out characters: AUROC "
               f"{score.auroc:.4f} (blue low, red high)")
    picture = text_picture_png(found.text[window:], found.values(name)[window:], caption)
    (out / "units.png").write_bytes(picture)
    units = [{"name": n, "auroc": s.auroc, "pearson": s.pearson, "strength": s.strength}
             for n, s in zip(found.names[:top], found.scores[:top], strict=True)]
    summary = {"held_out_chars": len(found.text), "fraction_inside": float(found.track.mean()),
               "units": units, "caption": caption}
    (out / "units.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    small = find_quote_units(model, data, text=found.text[window:window + EXPLORER_CHARS])
    write_explorer(small.trace, out / "states.html", track=small.track)
    return found


def _window_with_quotes(track: np.ndarray, before: int = 120) -> int:
    """Where the picture starts: a little before the first quotation of the text."""
    opening = np.flatnonzero(np.diff(track.astype(int)) == 1)
    return max(0, int(opening[0]) - before) if opening.size else 0
