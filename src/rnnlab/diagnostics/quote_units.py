"""Find the units of a character language model that track "inside a quotation".

Seed 003 / Karpathy et al. (2015): run the trained model over held-out text, take every
unit's hidden state ``h`` and (LSTM) cell state ``c`` at every character, and rank the units
by how well they separate characters inside a quotation from those outside (AUROC, with
:func:`rnnlab.diagnostics.unit_search.rank_units`). The track is
:func:`rnnlab.data.quotes.quote_track`: 1 where a quotation is open after the character.

    find_quote_units(model, data)          -> QuoteUnits, best unit first
    write_quote_units(model, data, out)    -> units.json, units.png (the text coloured by the
                                              best unit), states.html (the explorer)

The best unit on the test text is chosen on that text, so its AUROC carries a little
selection bias (the best of hundreds). With a valid text (the quotes task has one) the search
also runs there: the unit *selected on the valid text* and its AUROC on the test text is the
fully held-out number.

Beside the single units, a *linear probe* asks whether the states hold the quotation at all:
Fisher's linear discriminant of every unit together (h and tanh(c) of every layer), fitted on
the valid text and scored (AUROC) on the test text. A probe far above the best unit means the
model knows where quotations are but spreads it over many units; a probe near the best unit,
that one unit holds what the states know. The probe reads tanh(c), what the output gate
sees, not c itself: cell states are unbounded, and units that count (forget gate open) reach
10^4 over a long text, a drift a linear fit on one text follows and then misranks another
text by (a 2 × 256 Brown model: probe AUROC 0.64 on raw c, 0.995 on tanh(c), its best unit
0.995). One unit's AUROC is unchanged by tanh, so the ranking reads c as it is.
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

from rnnlab._atomic import write_atomically
from rnnlab.data.quotes import quote_track
from rnnlab.diagnostics.states import StateTrace, trace_model
from rnnlab.diagnostics.unit_search import UnitScore, rank_units

__all__ = ["ProbeScore", "QuoteUnits", "SelectedUnit", "find_quote_units", "linear_probe",
           "text_picture_png", "write_quote_units"]

# The explorer page carries every value of every unit (h, c, gates) at every character, at
# ~5.3 bytes a value: its text is cut to stay near EXPLORER_BYTES (1,500 characters of a
# 128-unit LSTM, ~500 of a 2 × 256 one, which at 1,500 made a 24 MB page).
EXPLORER_CHARS, EXPLORER_MIN_CHARS, EXPLORER_BYTES = 1500, 300, 8_000_000


@dataclass(frozen=True)
class ProbeScore:
    """A linear probe of every unit: fitted on ``fit_chars`` valid characters, its AUROC on
    the test text (the same text and track as the units')."""

    auroc: float
    features: int
    fit_chars: int


@dataclass(frozen=True)
class SelectedUnit:
    """The best unit of the valid text (``valid_auroc``) and its AUROC on the test text:
    chosen and scored on different texts."""

    name: str
    valid_auroc: float
    test_auroc: float


@dataclass(frozen=True)
class QuoteUnits:
    """Ranked units (``"c 17"``: cell state unit 17; ``"L1 c 17"`` in layer 1 of a stacked
    model) with their scores, and the trace."""

    names: tuple[str, ...]
    scores: tuple[UnitScore, ...]
    trace: StateTrace
    track: np.ndarray  # (tokens,) 0/1
    text: str
    probe: ProbeScore | None = None  # all units together; None without a valid text
    selected: SelectedUnit | None = None  # chosen on the valid text; None without one

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


def find_quote_units(model: torch.nn.Module, data, *, text: str | None = None,
                     use_valid: bool = True) -> QuoteUnits:
    """Rank the ``h`` and ``c`` units of every layer of ``model`` on ``text`` (default:
    ``data.test_text``, held out), and (``use_valid``, when ``data.valid_text`` holds a
    quotation) select a unit on the valid text and fit the linear probe of all units there,
    both scored on ``text``.

    ``data``: the quotes task's :class:`~rnnlab.train.toy_tasks.ToyData` (its alphabet
    encodes the text). Raises ValueError when the text holds no quotation.
    """
    text = data.test_text if text is None else text
    track = quote_track(text)
    if not 0 < track.mean() < 1:
        raise ValueError("the held-out text has no quotation (no \" pair), so no unit can be "
                         "tested for tracking one; give a text with quoted speech")
    trace = _trace_text(model, data, text)
    ranked = _ranked_units(trace, track)
    fit_text = getattr(data, "valid_text", "")
    probe_score = selected = None
    if use_valid and fit_text and 0 < quote_track(fit_text).mean() < 1:
        fit_trace, fit_track = _trace_text(model, data, fit_text), quote_track(fit_text)
        probe_score = linear_probe(_probe_features(fit_trace), fit_track,
                                   _probe_features(trace), track)
        name, valid_score = _ranked_units(fit_trace, fit_track)[0]
        selected = SelectedUnit(name, valid_score.auroc, dict(ranked)[name].auroc)
    return QuoteUnits(tuple(name for name, _ in ranked), tuple(score for _, score in ranked),
                      trace, track, text, probe_score, selected)


def _ranked_units(trace: StateTrace, track: np.ndarray) -> list[tuple[str, UnitScore]]:
    """Every ``h`` and ``c`` unit of every layer, named, best at separating ``track`` first."""
    stacked = len(trace.directions) > 1
    ranked = []
    for index, direction in enumerate(trace.directions):
        layer = f"L{direction.layer} " if stacked else ""  # one layer keeps the short names
        for kind in ("h", "c"):
            if kind in direction.values:
                ranked += [(f"{layer}{kind} {score.unit}", score)
                           for score in rank_units(trace.states(kind, index), track)]
    ranked.sort(key=lambda item: -item[1].strength)  # stable: ties keep layer, kind, unit order
    return ranked


def _trace_text(model: torch.nn.Module, data, text: str) -> StateTrace:
    ids = torch.from_numpy(data.encode(text))
    return replace(trace_model(model, ids, tokens=tuple(text)), text=text,
                   spans=tuple((index, index + 1) for index in range(len(text))))


def _probe_features(trace: StateTrace) -> np.ndarray:
    """(tokens, features): ``h`` and ``tanh(c)`` of every layer side by side (bounded: see
    the module docstring)."""
    return np.concatenate([np.tanh(direction.values[kind]) if kind == "c"
                           else direction.values[kind] for direction in trace.directions
                           for kind in ("h", "c") if kind in direction.values], axis=1)


def linear_probe(fit_states: np.ndarray, fit_track: np.ndarray, states: np.ndarray,
                 track: np.ndarray, *, shrinkage: float = 1e-3) -> ProbeScore:
    """Fisher's linear discriminant fitted on ``fit_states (tokens, features)`` with the 0/1
    ``fit_track``, scored by AUROC on ``states`` / ``track``. The pooled within-class
    covariance is shrunk towards its mean variance (``shrinkage``) so that saturated or
    constant units do not make it singular."""
    x = np.asarray(fit_states, dtype=np.float64)
    y = np.asarray(fit_track).astype(bool)
    if x.ndim != 2 or y.shape != (x.shape[0],) or not 0 < y.mean() < 1:
        raise ValueError(f"fit_states must be (tokens, features) with a 0/1 fit_track that "
                         f"has both classes, got shapes {x.shape} and {y.shape}")
    inside, outside = x[y], x[~y]
    centred = np.concatenate([inside - inside.mean(0), outside - outside.mean(0)])
    covariance = centred.T @ centred / max(1, len(x) - 2)
    ridge = shrinkage * max(float(np.trace(covariance)) / x.shape[1], 1e-12)
    weights = np.linalg.solve(covariance + ridge * np.eye(x.shape[1]),
                              inside.mean(0) - outside.mean(0))
    scores = np.asarray(states, dtype=np.float64) @ weights
    (score,) = rank_units(scores[:, None], track, by="auroc")
    return ProbeScore(score.auroc, x.shape[1], len(x))


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
    write_atomically(out / "units.png", picture)
    units = [{"name": n, "auroc": s.auroc, "pearson": s.pearson, "strength": s.strength}
             for n, s in zip(found.names[:top], found.scores[:top], strict=True)]
    summary = {"held_out_chars": len(found.text), "fraction_inside": float(found.track.mean()),
               "units": units, "caption": caption}
    if found.selected is not None:
        summary["selected_on_valid"] = {"name": found.selected.name,
                                        "valid_auroc": found.selected.valid_auroc,
                                        "test_auroc": found.selected.test_auroc}
    if found.probe is not None:
        summary["probe"] = {"auroc": found.probe.auroc, "features": found.probe.features,
                            "fit_chars": found.probe.fit_chars,
                            "method": "Fisher linear discriminant of every h and tanh(c) "
                                      "unit, fitted on the valid text"}
    write_atomically(out / "units.json", json.dumps(summary, indent=2) + "\n")
    values_per_char = sum(values.shape[1] for direction in found.trace.directions
                          for values in direction.values.values())
    shown = int(np.clip(EXPLORER_BYTES / 5.3 / values_per_char, EXPLORER_MIN_CHARS,
                        EXPLORER_CHARS))
    small = find_quote_units(model, data, text=found.text[window:window + shown],
                             use_valid=False)
    write_explorer(small.trace, out / "states.html", track=small.track)
    return found


def _window_with_quotes(track: np.ndarray, before: int = 120) -> int:
    """Where the picture starts: a little before the first quotation of the text."""
    opening = np.flatnonzero(np.diff(track.astype(int)) == 1)
    return max(0, int(opening[0]) - before) if opening.size else 0
