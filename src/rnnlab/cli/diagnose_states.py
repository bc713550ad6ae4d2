"""``rnnlab diagnose states``: the gate and state explorer of a trained run.

    rnnlab diagnose states runs/lm --text 'He said "no" and left.' --pattern '"[^"]*"'
    rnnlab diagnose states runs/x --file review.txt --out states/ --lstmvis lstmvis/review

Writes into ``--out`` (default ``states``): ``explorer.html`` (self-contained, open it in any
browser), ``heatmap.png`` (one layer and kind, for reports) and, with ``--pattern`` or
``--track``, ``units.csv`` (every layer, direction and kind's units ranked by AUROC with the
pattern). ``--lstmvis DIR`` also exports the states for LSTMVis. Everything is computed
before anything is written, and each file is written whole or not at all.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import tempfile
from pathlib import Path

from rnnlab.cli.common import add_threads_option, apply_threads, check_out_dir, read_utf8_file

OUTPUTS = ("explorer.html", "heatmap.png", "units.csv")


def register(views: argparse._SubParsersAction) -> None:
    parser = views.add_parser(
        "states", help="gate and state explorer: every unit at every token, in the browser",
        description="Runs a trained run on a text and shows, for every token, each layer's "
                    "and direction's hidden state, LSTM cell state and gates (recomputed "
                    "from the weights; the fused kernels hide them) as an interactive HTML "
                    "page. With --pattern, units are ranked by how well they follow it.")
    parser.add_argument("run", metavar="RUN_DIR",
                        help="a run directory (rnnlab train --out, rnnlab lm train --out)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the text to run the model on")
    source.add_argument("--file", metavar="F", help="a UTF-8 text file to run the model on")
    parser.add_argument("--pattern", metavar="REGEX",
                        help="a Python regex over the text; tokens overlapping a match are "
                             "'inside' and units are ranked by AUROC against that")
    parser.add_argument("--ignore-case", action="store_true", help="--pattern ignores case")
    parser.add_argument("--track", metavar="FILE",
                        help="instead of --pattern: a file of per-token values (0/1), "
                             "whitespace- or comma-separated, one per token")
    parser.add_argument("--out", default="states", metavar="DIR",
                        help="folder for explorer.html, heatmap.png, units.csv "
                             "(default: ./states)")
    parser.add_argument("--lstmvis", metavar="DIR",
                        help="also export an LSTMVis project there (needs rnnlab[viz])")
    parser.add_argument("--kind", default="h",
                        help="what heatmap.png shows: h, c or a gate (default: h)")
    parser.add_argument("--direction", default="0",
                        help="layer/direction heatmap.png shows: an index or a name such as "
                             "'rnn layer 1 forward' (default: 0, the first)")
    add_threads_option(parser)
    parser.set_defaults(handler=run_states)


def _read_text(args: argparse.Namespace) -> tuple[str, str]:
    if args.text is not None:
        return args.text, "--text"
    return read_utf8_file(args.file), "--file"


def _read_track(path: str, tokens: int):
    import numpy as np

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--track {path!r} does not exist; give a file of per-token "
                                "values (0/1)")
    parts = re.split(r"[\s,]+", file.read_text(encoding="utf-8").strip())
    try:
        values = np.array([float(part) for part in parts if part])
    except ValueError as error:
        raise ValueError(f"--track {path!r}: {error}; it must hold numbers only") from None
    if values.shape != (tokens,):
        raise ValueError(f"--track {path!r} has {values.size} value(s) but the text has "
                         f"{tokens} token(s); give one value per token")
    return values


def _load(run: str):
    from rnnlab.train.run_files import load_run

    try:
        return load_run(run)
    except FileNotFoundError:
        raise FileNotFoundError(f"RUN_DIR {run!r} does not exist; pass the --out directory "
                                "of an `rnnlab train` or `rnnlab lm train` run") from None
    except ValueError as error:  # CheckpointError: no checkpoint, damaged, not a run
        raise ValueError(f"RUN_DIR {run!r}: {error}; pass the --out directory of a finished "
                         "`rnnlab train` or `rnnlab lm train` run") from None


def _pattern_track(trace, args: argparse.Namespace, where: str):
    from rnnlab.diagnostics.explorer_html import trace_text
    from rnnlab.diagnostics.unit_search import regex_track

    text, spans = trace_text(trace)
    track = regex_track(text, args.pattern, spans, flags=re.IGNORECASE if args.ignore_case else 0)
    inside = int(track.sum())
    if inside == 0:
        raise ValueError(f"--pattern {args.pattern!r} never matches the {len(track)} tokens of "
                         f"{where}; check it against the text (it is a Python regex, case-"
                         "sensitive unless --ignore-case) or drop --pattern")
    if inside == len(track):
        raise ValueError(f"--pattern {args.pattern!r} matches every one of the {len(track)} "
                         f"tokens of {where}; it must leave some tokens outside to rank units")
    return track


def _units_csv(trace, track) -> str:
    from rnnlab.diagnostics.unit_search import rank_units

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["direction", "kind", "rank", "unit", "auroc", "pearson"])
    for direction in trace.directions:
        for kind, values in direction.values.items():
            for rank, score in enumerate(rank_units(values, track), start=1):
                writer.writerow([direction.name, kind, rank, score.unit, f"{score.auroc:.6f}",
                                 f"{score.pearson:.6f}"])
    return buffer.getvalue()


def _write_all(out: Path, files: dict[str, str | bytes]) -> None:
    """Write every file into a staging folder inside ``out``, then move each into place."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".states-", dir=out))
    try:
        for name, content in files.items():
            target = staging / name
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        for name in OUTPUTS:  # an old units.csv would describe another pattern
            if name not in files:
                (out / name).unlink(missing_ok=True)
        for name in files:
            os.replace(staging / name, out / name)
    finally:
        for leftover in staging.iterdir():
            leftover.unlink()
        staging.rmdir()


def run_states(args: argparse.Namespace) -> int:
    apply_threads(args)
    out = check_out_dir(args.out)
    if args.lstmvis is not None:
        check_out_dir(args.lstmvis, "--lstmvis")
        from rnnlab.diagnostics.lstmvis import require_h5py

        try:  # refuse before any work if the export cannot be written
            require_h5py()
        except ModuleNotFoundError as error:
            raise ValueError(f"--lstmvis: {error}") from None
    if args.pattern is not None:
        if args.track is not None:
            raise ValueError("give --pattern or --track, not both")
        try:
            re.compile(args.pattern)
        except re.error as error:
            raise ValueError(f"--pattern {args.pattern!r} is not a valid regular expression: "
                             f"{error}") from None
    text, where = _read_text(args)

    from rnnlab.diagnostics.explorer_html import explorer_html
    from rnnlab.diagnostics.state_heatmap import heatmap_png
    from rnnlab.diagnostics.states import trace_run

    saved = _load(args.run)
    trace = trace_run(saved, text, argument=where)
    direction = int(args.direction) if args.direction.isdigit() else args.direction
    if isinstance(direction, int) and direction >= len(trace.directions):
        raise ValueError(f"--direction {direction} is out of range: the model has "
                         f"{len(trace.directions)} layer/direction(s), {list(trace.names)}")
    try:
        trace.states(args.kind, direction)
    except KeyError as error:
        raise ValueError(f"--kind {args.kind!r} / --direction {args.direction!r}: "
                         f"{error.args[0] if error.args else error}; directions are "
                         f"{list(trace.names)}") from None
    track = None
    if args.pattern is not None:
        track = _pattern_track(trace, args, where)
    elif args.track is not None:
        track = _read_track(args.track, len(trace.tokens))
        if track.min() == track.max():
            raise ValueError(f"--track {args.track!r} is {track[0]:g} at every token; it must "
                             "differ between tokens to rank units")
    title = f"Gates and states: {Path(args.run).name}"
    page_options = ({"pattern": args.pattern, "ignore_case": args.ignore_case}
                    if args.pattern is not None else {"track": track})
    files: dict[str, str | bytes] = {
        "explorer.html": explorer_html(trace, title=title, **page_options),
        "heatmap.png": heatmap_png(trace, kind=args.kind, direction=direction, track=track),
    }
    if track is not None:
        files["units.csv"] = _units_csv(trace, track)
    _write_all(out, files)
    if args.lstmvis is not None:
        from rnnlab.diagnostics.lstmvis import export_lstmvis

        export_lstmvis(trace, args.lstmvis, name=Path(args.run).name,
                       track=None if track is None else (track > 0).astype(float))
    _print_summary(trace, track, out, args)
    return 0


def _print_summary(trace, track, out: Path, args: argparse.Namespace) -> None:
    from rnnlab.diagnostics.unit_search import rank_units

    unknown = sum(not known for known in trace.known or ())
    print(f"states of {trace.source} on {len(trace.tokens)} tokens"
          + (f" ({unknown} not in the vocabulary)" if unknown else ""))
    for note in trace.notes:
        print(f"note: {note}")
    for direction in trace.directions:
        print(f"  {direction.name} ({direction.cell}): {', '.join(direction.values)}")
    if track is not None:
        print("units that best follow the pattern (h, AUROC; units.csv has every kind):")
        for direction in trace.directions:
            best = rank_units(direction.values["h"], track)[:3]
            ranked = ", ".join(f"unit {s.unit} {s.auroc:.3f}" for s in best)
            print(f"  {direction.name}: {ranked}")
    print(f"wrote {out / 'explorer.html'} (open it in a browser), {out / 'heatmap.png'}"
          + (f", {out / 'units.csv'}" if track is not None else ""))
    if args.lstmvis is not None:
        print(f"wrote the LSTMVis project {args.lstmvis} (lstm_server.py -dir "
              f"{Path(args.lstmvis).parent})")
