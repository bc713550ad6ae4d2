"""``rnnlab diagnose quotes``: the quote-unit search of a trained quotes run, again.

    rnnlab diagnose quotes STUDY/runs/quotes/lstm/run0                  # held-out text
    rnnlab diagnose quotes STUDY/runs/quotes/lstm/run0 --file story.txt --out story/

A quotes run (``rnnlab toys quotes``) ends with the search; this view repeats it on the
run's checkpoint, on the task's held-out text (rebuilt from the run's task config, so the
corpus must be where the run found it) or on the user's own text. It writes ``units.json``
(the best units, the unit selected on the valid text with its held-out AUROC, the linear
probe of all units), ``units.png`` and ``states.html`` into ``--out`` (default: the run
directory itself, replacing what training wrote; each file whole or not at all).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from rnnlab.cli.common import add_threads_option, apply_threads, check_out_dir, read_utf8_file


def register(views: argparse._SubParsersAction) -> None:
    parser = views.add_parser(
        "quotes", help="the units of a trained quotes run that track 'inside a quotation'",
        description="Repeats the quote-unit search of a character language model trained "
                    "by `rnnlab toys quotes`: every h and c unit ranked by AUROC against "
                    "'inside a quotation' on held-out text (or --file), the unit chosen on "
                    "the valid text, and a linear probe of all units.")
    parser.add_argument("run", metavar="RUN_DIR",
                        help="a quotes run directory: <study --out>/runs/quotes/<cell>/run<r>")
    parser.add_argument("--file", metavar="F",
                        help="a UTF-8 text with quotations to search on (\" toggles, “ opens, "
                             "” closes; default: the task's held-out test text)")
    parser.add_argument("--out", metavar="DIR",
                        help="folder for units.json, units.png, states.html (default: RUN_DIR)")
    add_threads_option(parser)
    parser.set_defaults(handler=run_quotes)


def _load(run: str):
    from rnnlab.train.toy_run import load_toy_run

    try:
        saved = load_toy_run(run)
    except FileNotFoundError:
        raise FileNotFoundError(f"RUN_DIR {run!r} does not exist; pass a quotes run's "
                                "directory, <study --out>/runs/quotes/<cell>/run<r>") from None
    except ValueError as error:  # CheckpointError: none, damaged, another kind of run
        raise ValueError(f"RUN_DIR {run!r}: {error}") from None
    if saved.task.get("task") != "quotes":
        raise ValueError(f"RUN_DIR {run!r} is a {saved.task.get('task')!r} run; the quote-unit "
                         "search needs a character language model: a run of "
                         "`rnnlab toys quotes`")
    return saved


def _own_text(path: str, data) -> str:
    from rnnlab.data.quotes import quote_track

    text = read_utf8_file(path)
    inside = quote_track(text).mean() if text else 0.0
    if not 0 < inside < 1:
        raise ValueError(f"--file {path!r} holds no quotation (no \" pair, no “…”), so no unit "
                         "can be tested for tracking one; give a text with quoted speech")
    unknown = int((data.encode(text) == 0).sum())  # id 0: a character training never saw
    if unknown == len(text):
        raise ValueError(f"--file {path!r}: none of its characters is in the model's "
                         f"alphabet ({len(data.alphabet)} characters of its training text); give "
                         "a text in the language and script the model was trained on")
    if unknown:
        print(f"note: {unknown:,} of {len(text):,} characters of {path} are unknown to the "
              "model (read as its unknown-character id)")
    return text


def run_quotes(args: argparse.Namespace) -> int:
    apply_threads(args)
    out = check_out_dir(args.out if args.out is not None else args.run)
    saved = _load(args.run)

    from rnnlab.data.toys import ToyTaskConfig
    from rnnlab.diagnostics.quote_units import write_quote_units
    from rnnlab.train.toy_tasks import build_toy_data

    data = build_toy_data(ToyTaskConfig.from_dict(saved.task))
    if args.file is not None:
        data = replace(data, test_text=_own_text(args.file, data))
    out.mkdir(parents=True, exist_ok=True)
    found = write_quote_units(saved.model, data, out)
    name, score = found.best()
    where = args.file if args.file is not None else "the held-out test text"
    print(f"{len(found.names)} units on {len(found.text):,} characters of {where} "
          f"({found.track.mean():.1%} inside a quotation)")
    print(f"  best unit:          {name}  AUROC {score.auroc:.4f}  (chosen on this text)")
    if found.selected is not None:
        print(f"  selected on valid:  {found.selected.name}  AUROC {found.selected.test_auroc:.4f}"
              f"  (valid {found.selected.valid_auroc:.4f})")
    if found.probe is not None:
        print(f"  linear probe:       all {found.probe.features} units  AUROC "
              f"{found.probe.auroc:.4f}  (fitted on the valid text)")
    print(f"wrote {out / 'units.json'}, units.png, states.html")
    return 0
