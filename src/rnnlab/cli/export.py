"""``rnnlab export``: a trained run as ONNX or a ``torch.export`` program, with its sidecars.

    rnnlab export runs/x --format onnx --out exports/x
    rnnlab export runs/lm --format torch-export --out exports/lm --padding pre
    rnnlab export runs/tagger --out exports/tagger      # an `rnnlab tag train` run
"""

from __future__ import annotations

import argparse

from rnnlab.cli.common import (
    add_threads_option,
    apply_threads,
    check_out_dir,
    missing_extra_is_bad_input,
)

FORMATS = ("onnx", "torch-export")  # rnnlab.export.run.FORMATS, without importing torch here


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="export a trained run (ONNX or torch.export) for prediction",
        description="Write the run's model (inputs: padded ids and lengths, batch and time "
                    "dynamic), its vocabulary, label names, tokenizer settings and config to "
                    "--out; the export is validated against PyTorch before --out appears.")
    parser.add_argument("run_dir", metavar="RUN_DIR",
                        help="a run directory of `rnnlab train`, `rnnlab lm train` or "
                             "`rnnlab tag train`")
    parser.add_argument("--format", choices=FORMATS, default="onnx",
                        help="onnx (for onnxruntime and `rnnlab predict --model`) or "
                             "torch-export (a torch.export program, program.pt2)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="the export directory (must not exist yet, or be empty)")
    parser.add_argument("--padding", choices=("pre", "post"), default=None,
                        help="language models: the side inputs are padded on (default post); "
                             "a classifier keeps the side it was trained with, a tagger "
                             "post")
    add_threads_option(parser)
    parser.set_defaults(handler=run_export)


@missing_extra_is_bad_input
def run_export(args: argparse.Namespace) -> int:
    out = check_out_dir(args.out)
    apply_threads(args)
    from rnnlab.export.run import export_run

    written = export_run(args.run_dir, out, args.format, padding=args.padding)
    import json

    manifest = json.loads((written / "bundle.json").read_text(encoding="utf-8"))
    validation = manifest["validation"]
    time = "dynamic" if manifest["time"] is None else f"fixed at {manifest['time']}"
    print(f"exported {manifest['kind']} to {written}/{manifest['model_file']} (time {time}); "
          f"validated against PyTorch: max |diff| {validation['max_abs_diff']:.2g} on lengths "
          f"{validation['lengths']}")
    return 0
