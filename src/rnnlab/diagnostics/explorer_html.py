"""The gate and state explorer: one self-contained HTML page per trace.

    explorer_html(trace, pattern=r'"[^"]*"')      → str, the page
    write_explorer(trace, "states.html", ...)     → the page on disk (atomic)

The page needs nothing but a browser: no network, no CDN (its Content-Security-Policy forbids
every fetch), the script, the styles and the data inline. It shows the text, coloured by a
chosen unit, and below it one heatmap row per unit over the tokens; hovering a cell shows the
token, the unit and the value. Selectors pick the layer and direction and the kind (``h``,
``c``, each gate). A regex typed over the text, or a pasted per-token 0/1 track, marks
tokens; the units can then be sorted by AUROC or by correlation with it, best first, computed
in the page exactly as :func:`rnnlab.diagnostics.unit_search.rank_units` does.

Values travel as little-endian float32 in base64: about 5.3 bytes per value, so a 2-layer
bidirectional LSTM of 128 units over 1,000 tokens (6 kinds × 4 directions) is ~16 MB.
The page's script and styles live beside this module in ``explorer_assets/``.
"""

from __future__ import annotations

import base64
import html
import json
import os
from importlib import resources
from pathlib import Path
from string import Template
from typing import Literal

import numpy as np

from rnnlab._atomic import write_atomically
from rnnlab.diagnostics.states import StateTrace
from rnnlab.diagnostics.unit_search import regex_track

__all__ = ["explorer_html", "trace_text", "write_explorer"]

SortKey = Literal["unit", "auroc", "pearson"]
KIND_LABELS = {"h": "h (hidden state)", "c": "c (cell state)", "input": "input gate",
               "forget": "forget gate", "output": "output gate",
               "candidate": "candidate (g)", "update": "update gate (z)",
               "reset": "reset gate (r)", "new": "new state (n)"}


def _asset(name: str) -> str:
    return resources.files("rnnlab.diagnostics").joinpath("explorer_assets", name).read_text(
        encoding="utf-8")


def trace_text(trace: StateTrace) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The trace's text and token spans; a trace made without a text gets its tokens joined
    by spaces."""
    if trace.text is not None and trace.spans is not None:
        return trace.text, trace.spans
    spans, position = [], 0
    for token in trace.tokens:
        spans.append((position, position + len(token)))
        position += len(token) + 1
    return " ".join(trace.tokens), tuple(spans)


def _kind_payload(kind: str, values: np.ndarray) -> dict:
    values = np.ascontiguousarray(values, dtype="<f4")
    finite = values[np.isfinite(values)]
    return {
        "kind": kind,
        "label": KIND_LABELS.get(kind, kind),
        "units": int(values.shape[1]),
        "min": float(finite.min()) if finite.size else 0.0,
        "max": float(finite.max()) if finite.size else 0.0,
        "data": base64.b64encode(values.tobytes()).decode("ascii"),
    }


def explorer_html(trace: StateTrace, *, pattern: str | None = None, track=None,
                  ignore_case: bool = False, sort: SortKey | None = None,
                  title: str | None = None) -> str:
    """The page for ``trace``.

    pattern: a regex over the trace's text (Python syntax; the page re-reads it as a
    JavaScript regex only if the user edits it); track: instead, a (tokens,) 0/1 sequence.
    sort: the initial order; default "auroc" when a pattern or track is given, else "unit".
    Raises ValueError for an invalid pattern or a track of the wrong length, and when the
    pattern never matches (or matches every token): there would be nothing to sort by.
    """
    text, spans = trace_text(trace)
    if pattern is not None and track is not None:
        raise ValueError("give a pattern or a track, not both")
    track_values, source = None, None
    if pattern is not None:
        track_values = regex_track(text, pattern, spans, flags=2 if ignore_case else 0)
        source = "pattern"
    elif track is not None:
        track_values = np.asarray(track, dtype=np.float64)
        if track_values.shape != (len(trace.tokens),):
            raise ValueError(f"track must have one value per token ({len(trace.tokens)}), "
                             f"got shape {track_values.shape}")
        source = "track"
    if track_values is not None and np.ptp(track_values) == 0:
        what = f"pattern {pattern!r}" if pattern is not None else "track"
        raise ValueError(f"the {what} {'marks every' if track_values[0] else 'matches no'} "
                         f"token of the {len(trace.tokens)}; give one that holds at some "
                         "tokens and not at others")
    if sort is None:
        sort = "auroc" if track_values is not None else "unit"
    if sort not in ("unit", "auroc", "pearson"):
        raise ValueError(f"sort must be 'unit', 'auroc' or 'pearson', got {sort!r}")
    payload = {
        "title": title or "Gates and states",
        "source": trace.source,
        "notes": list(trace.notes),
        "tokens": list(trace.tokens),
        "known": None if trace.known is None else list(trace.known),
        "text": text,
        "spans": [list(span) for span in spans],
        "pattern": pattern,
        "ignore_case": ignore_case,
        "track": None if track_values is None else [
            int(v) if float(v).is_integer() else float(v) for v in track_values],
        "track_source": source,
        "sort": sort,
        "directions": [{"name": d.name, "cell": d.cell, "gates_exposed": d.gates_exposed,
                        "kinds": [_kind_payload(k, v) for k, v in d.values.items()]}
                       for d in trace.directions],
    }
    # "<" escaped: no "</script>" (or "<!--") inside the data can end the script element.
    data = json.dumps(payload, ensure_ascii=False, allow_nan=False).replace("<", "\\u003c")
    return Template(_asset("explorer.html")).substitute(
        page_title=html.escape(payload["title"]), css=_asset("explorer.css"),
        js=_asset("explorer.js"), data=data)


def write_explorer(trace: StateTrace, path: str | os.PathLike[str], **options) -> Path:
    """Write :func:`explorer_html` to ``path`` atomically (a temporary file, then a rename)."""
    return write_atomically(path, explorer_html(trace, **options))
