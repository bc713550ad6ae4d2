"""``rnnlab predict``: classify texts (or predict the next word) with an export or a run.

    rnnlab predict --model exports/x "a tender, funny film"     # ONNX export: no torch
    rnnlab predict --model exports/x --file reviews.txt         # one text per line
    rnnlab predict --model exports/tagger "The dog ran ."       # a tagger: The/DET dog/NOUN ...
    rnnlab predict runs/x "a tender, funny film"                # a run directory (PyTorch)

With ``--model`` nothing here imports torch: the export runs on onnxruntime and numpy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnlab.cli.common import int_at_least, missing_extra_is_bad_input


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict", help="classify texts with an export (--model) or a trained run",
        description="Print the predicted label and its probability for each text (a "
                    "language model: the most likely next words; a tagger: each token with "
                    "its tag, token/TAG). --model DIR runs an "
                    "`rnnlab export --format onnx` directory on onnxruntime, without torch; "
                    "otherwise the first argument is a run directory.")
    parser.add_argument("texts", metavar="TEXT", nargs="*",
                        help="texts to classify (without --model: RUN_DIR TEXT...)")
    parser.add_argument("--model", metavar="DIR", default=None,
                        help="an ONNX export directory (`rnnlab export --format onnx`)")
    parser.add_argument("--file", metavar="F", default=None,
                        help="read texts from F, one per line ('-' for stdin)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=64, metavar="N",
                        help="texts per onnxruntime call (default 64)")
    parser.add_argument("--top", type=int_at_least(1), default=5, metavar="K",
                        help="language models: how many next words to print (default 5)")
    parser.set_defaults(handler=run_predict)


def _read_texts(args: argparse.Namespace) -> list[str]:
    texts = list(args.texts)
    if args.file is not None:
        if args.file == "-":
            lines = sys.stdin.read().splitlines()
        else:
            path = Path(args.file)
            if not path.is_file():
                raise FileNotFoundError(f"--file {args.file!r} does not exist; give a text "
                                        "file with one text per line")
            lines = path.read_text(encoding="utf-8").splitlines()
        texts.extend(line for line in lines if line.strip())
    if not texts:
        raise ValueError("no texts to predict: give TEXT arguments or --file F")
    return texts


@missing_extra_is_bad_input
def run_predict(args: argparse.Namespace) -> int:
    if args.model is None:
        if not args.texts:
            raise ValueError("give --model DIR (an export) or RUN_DIR TEXT... (a run)")
        from rnnlab.cli.train import run_predict as predict_with_run

        run_dir, *texts = args.texts
        args.run_dir, args.texts = run_dir, texts
        if not texts and args.file is None:
            raise ValueError(f"no texts to predict with run {run_dir!r}: give TEXT arguments "
                             "or --file F")
        args.texts = _read_texts(args)
        return predict_with_run(args)
    from rnnlab.serving import Predictor

    predictor = Predictor(args.model, batch_size=args.batch_size)
    texts = _read_texts(args)
    for text, prediction in zip(texts, predictor.predict(texts, top=args.top), strict=True):
        if predictor.kind == "tagger":  # the tokens are in the output already
            print(prediction.describe())
            continue
        preview = text if len(text) <= 60 else text[:57] + "..."
        print(f"{prediction.describe()}\t{preview}")
    return 0
