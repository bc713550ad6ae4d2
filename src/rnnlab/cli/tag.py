"""``rnnlab tag``: train, evaluate and use a part-of-speech tagger (BiLSTM + character features).

    rnnlab tag train --data brown --tagset universal --out runs/tagger
    rnnlab tag train --data brown --tagset universal --out runs/tagger --resume
    rnnlab tag evaluate runs/tagger                  # the report: test split, with the baseline
    echo "The dog barked ." | rnnlab tag predict runs/tagger
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from rnnlab.cli.common import add_threads_option, apply_threads, check_out_dir
from rnnlab.core.registry import ALL_CELLS

TAGSETS = ("universal", "simplified", "brown")
SPLITS = ("test", "valid", "train")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tag", help="part-of-speech tagging: train/evaluate/predict a BiLSTM tagger",
        description="A bidirectional recurrent tagger over word embeddings and character "
                    "features, with an optional CRF output, on Brown or your tagged files.")
    commands = parser.add_subparsers(dest="tag_command", metavar="TAG_COMMAND", required=True)
    _register_train(commands)
    _register_evaluate(commands)
    _register_predict(commands)


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="brown",
                        help="'brown' (split by documents, seeded) or a folder holding "
                             "train.tsv/.jsonl (and valid.*, test.*); default brown")
    parser.add_argument("--tagset", default=None, choices=TAGSETS,
                        help="Brown's tag set: universal (12 tags, Petrov et al. 2012; the "
                             "default), simplified (174), brown (472 original)")
    parser.add_argument("--brown-path", default=None,
                        help="Brown folder or brown.tar.gz (default: $RNNLAB_DATA_DIR/brown, "
                             "the cache or ~/nltk_data)")


def _register_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a tagger (checkpoint every epoch)")
    _add_data_options(train)
    train.add_argument("--out", required=True, help="run directory (created if missing)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its last checkpoint")
    train.add_argument("--epochs", type=int, default=20, help="maximum epochs (default 20)")
    train.add_argument("--patience", type=int, default=4,
                       help="stop after N epochs without a better valid loss (default 4; 0 = "
                            "never)")
    train.add_argument("--batch-size", type=int, default=32, help="sentences per batch")
    train.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    train.add_argument("--cell", default="lstm", choices=sorted(ALL_CELLS),
                       help="recurrent cell of the tagger (and of a char-LSTM)")
    train.add_argument("--hidden-size", type=int, default=128, help="per direction")
    train.add_argument("--layers", type=int, default=1, help="stacked bidirectional layers")
    train.add_argument("--embedding-size", type=int, default=100, help="word embedding size")
    train.add_argument("--char-features", default="cnn", choices=("cnn", "lstm", "none"),
                       help="character features: char-CNN (default), char-BiLSTM or none")
    train.add_argument("--char-size", type=int, default=50,
                       help="CNN filters, or char-LSTM hidden size per direction")
    train.add_argument("--dropout", type=float, default=0.5, help="dropout (default 0.5)")
    train.add_argument("--crf", action="store_true", help="a CRF output layer")
    train.add_argument("--unk-replace", type=float, default=0.5,
                       help="probability a training singleton is read as <unk> (default 0.5)")
    train.add_argument("--max-train-sentences", type=int, default=None,
                       help="train on the first N training sentences only (a quick trial)")
    train.add_argument("--seed", type=int, default=0, help="weights, dropout, batch order")
    add_threads_option(train)
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(handler=run_train)


def _register_evaluate(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("evaluate", help="the report of a trained tagger")
    evaluate.add_argument("run_dir", help="a run directory written by `rnnlab tag train`")
    evaluate.add_argument("--split", default="test", choices=SPLITS, help="default test")
    evaluate.add_argument("--data", default=None,
                          help="evaluate on this folder's test.* / valid.* tagged files instead "
                               "of the run's data (their tags must be in the run's tag set)")
    evaluate.add_argument("--brown-path", default=None, help="where the run's Brown corpus is")
    evaluate.add_argument("--report", default=None, help="also write the report to this file")
    add_threads_option(evaluate)
    evaluate.set_defaults(handler=run_evaluate)


def _register_predict(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser("predict", help="tag text: one sentence per line, tokens "
                                                  "separated by spaces")
    predict.add_argument("run_dir", help="a run directory written by `rnnlab tag train`")
    predict.add_argument("--input", default="-", help="text file (default: standard input)")
    predict.add_argument("--format", default="slash", choices=("slash", "tsv"),
                         help="slash: word/TAG per token; tsv: word<TAB>tag lines, blank line "
                              "between sentences")
    add_threads_option(predict)
    predict.set_defaults(handler=run_predict)


def _positive(value: int | None, option: str) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{option} must be >= 1, got {value}")


def run_train(args: argparse.Namespace) -> int:
    from rnnlab.data.tagging import load_tagging_data
    from rnnlab.train.tagger_run import TAGGER_TRAINING, train_tagger

    out = check_out_dir(args.out)
    for option in ("epochs", "batch_size", "hidden_size", "layers", "embedding_size",
                   "char_size", "max_train_sentences"):
        _positive(getattr(args, option), "--" + option.replace("_", "-"))
    if args.patience < 0:
        raise ValueError(f"--patience must be >= 0 (0 = no early stopping), got {args.patience}")
    apply_threads(args)
    spec = {"data": args.data, "tagset": args.tagset, "seed": args.seed,
            "max_train_sentences": args.max_train_sentences}
    data = load_tagging_data(**spec, brown_path=args.brown_path)
    train_config = replace(TAGGER_TRAINING, epochs=args.epochs, batch_size=args.batch_size,
                           lr=args.lr, patience=args.patience or None)
    options = {"cell": args.cell, "hidden_size": args.hidden_size, "num_layers": args.layers,
               "word_embedding_size": args.embedding_size, "char_features": args.char_features,
               "char_size": args.char_size, "dropout": args.dropout, "crf": args.crf}
    print(f"{data.name}: {len(data.train)} train / {len(data.valid)} valid / {len(data.test)} "
          f"test sentences, {len(data.tag_names)} tags", flush=True)
    result = train_tagger(data, out_dir=out, seed=args.seed, train_config=train_config,
                          model_options=options, unk_replace=args.unk_replace, data_spec=spec,
                          resume=args.resume, progress=not args.no_progress)
    final = result.final
    seconds = sum(m.seconds or 0 for m in result.history)
    print(f"best epoch {final.epoch}: valid accuracy {_percent(final.valid_accuracy)}, test "
          f"accuracy {_percent(final.test_accuracy)}; {len(result.history)} epochs, "
          f"{seconds:.0f} s of training")
    print(f"report: {out / 'report.md'}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from rnnlab.data.tagging import load_tagged_folder, load_tagging_data
    from rnnlab.train.tagger_eval import evaluate_tagging, load_tagger_run
    from rnnlab.train.tagger_report import format_report

    apply_threads(args)
    run = load_tagger_run(args.run_dir)
    if "data" in run.data_spec:
        data = load_tagging_data(**run.data_spec, brown_path=args.brown_path)
        if args.data is not None:
            # Their valid/test files; the baseline stays fitted on the run's training data.
            data = replace(load_tagged_folder(args.data, require_train=False),
                           train=data.train)
    elif args.data is not None:
        data = load_tagged_folder(args.data)
    else:
        raise ValueError(f"{args.run_dir} was trained from Python on data "
                         f"{run.data_spec.get('name')!r}, which the command line cannot load "
                         f"again; pass --data FOLDER of tagged files to evaluate on")
    tagger, baseline = evaluate_tagging(run.model, run.vocabs, data, args.split)
    text = format_report(tagger, baseline, title=f"{data.name}, {args.split} split")
    print(text, end="")
    if args.report:
        Path(args.report).write_text(text, encoding="utf-8")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from rnnlab.train.tagger_eval import load_tagger_run, tag_sentences

    apply_threads(args)
    run = load_tagger_run(args.run_dir)
    if args.input == "-":
        text = sys.stdin.read()
    else:
        path = Path(args.input)
        if not path.is_file():
            raise FileNotFoundError(f"--input {args.input!r} does not exist; give a text file "
                                    f"with one sentence per line, or '-' for standard input")
        text = path.read_text(encoding="utf-8")
    sentences = [line.split() for line in text.splitlines() if line.strip()]
    if not sentences:
        raise ValueError(f"--input {args.input!r} holds no text; give one sentence per line")
    for tokens, tags in zip(sentences, tag_sentences(run, sentences), strict=True):
        if args.format == "slash":
            print(" ".join(f"{word}/{tag}" for word, tag in zip(tokens, tags, strict=True)))
        else:
            print("\n".join(f"{word}\t{tag}" for word, tag in zip(tokens, tags, strict=True)))
            print()
    return 0


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f} %"
