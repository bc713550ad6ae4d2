"""``rnnlab lm``: train and evaluate language models; seed 000's next-word demonstration.

    rnnlab lm train --corpus brown --preset small --out runs/brown-small
    rnnlab lm train --corpus brown --preset small --out runs/brown-small --resume
    rnnlab lm eval runs/brown-small
    rnnlab lm nextword --variant all                     # fixed, leaky, leaky-lstm1
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from rnnlab.cli.common import add_threads_option, apply_threads, check_out_dir, int_at_least
from rnnlab.cli.datasets import DATA_LOCATIONS_HELP, add_download_option, prepare_named_data
from rnnlab.core.registry import LSTM_CELLS

_POSITIVE = int_at_least(1)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lm", help="language models: train/eval a TBPTT LSTM LM; seed 000's next-word model",
        description="Stacked LSTM language models with Zaremba et al.'s presets, trained with "
                    "truncated BPTT; and seed 000's bidirectional next-word model.",
    )
    commands = parser.add_subparsers(dest="lm_command", metavar="LM_COMMAND", required=True)
    _register_train(commands)
    _register_eval(commands)
    _register_nextword(commands)


def _register_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train an LSTM LM (checkpoint every epoch)")
    train.add_argument("--corpus", required=True,
                       help="'brown' (Bengio et al. 2003's split) or a folder with PTB-format "
                            "train/valid/test files (ptb.train.txt ... or train.txt ...); "
                            "required, no default")
    train.add_argument("--preset", default="small", choices=("small", "medium", "large"),
                       help="Zaremba et al. (2014) configuration (default: small)")
    train.add_argument("--out", default=None,
                       help="run directory (default: runs/lm-CORPUS-PRESET)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its last checkpoint")
    train.add_argument("--epochs", type=_POSITIVE, default=None,
                       help="epochs (default: the preset's: small 13, medium 39, large 55)")
    train.add_argument("--max-words", type=int_at_least(2), default=None,
                       help="train on the first N tokens only; valid/test stay whole "
                            "(default: all)")
    train.add_argument("--batch-size", type=_POSITIVE, default=None,
                       help="parallel training streams (default: the preset's, 20)")
    train.add_argument("--bptt", type=_POSITIVE, default=None,
                       help="steps per truncated-BPTT window (default: the preset's: small "
                            "20, medium/large 35)")
    train.add_argument("--eval-batch-size", type=_POSITIVE, default=10,
                       help="streams when evaluating (default 10)")
    train.add_argument("--max-eval-tokens", type=_POSITIVE, default=None, metavar="N",
                       help="score only the first N valid tokens after each epoch, to cap "
                            "validation cost on a huge corpus; the final valid and test "
                            "scores use the whole splits (default: all valid tokens)")
    train.add_argument("--cell", default="lstm",
                       choices=tuple(LSTM_CELLS), help="LSTM cell (default lstm)")
    train.add_argument("--tie-weights", action="store_true",
                       help="share embedding and decoder weights (default: off)")
    train.add_argument("--seed", type=int, default=0,
                       help="initial weights and dropout (default 0)")
    train.add_argument("--brown-path", default=None,
                       help="Brown corpus folder or brown.tar.gz (default: "
                            "$RNNLAB_DATA_DIR/brown/brown.tar.gz, a checkout's "
                            "../shared/data, the cache or ~/nltk_data)")
    train.add_argument("--lr", type=float, default=None,
                       help="initial SGD learning rate (default: the preset's, 1.0)")
    add_threads_option(train)
    train.add_argument("--no-progress", action="store_true",
                       help="no progress bar (a bar is drawn only on a terminal; one line per "
                            "epoch is printed either way)")
    train.set_defaults(handler=run_train)


def _register_eval(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("eval", help="valid and test perplexity of a trained run")
    evaluate.add_argument("run_dir", help="a run directory written by `rnnlab lm train`")
    evaluate.add_argument("--eval-batch-size", type=_POSITIVE, default=None,
                          help="streams (default: the run's; 1 scores every token)")
    add_threads_option(evaluate)
    evaluate.add_argument("--no-progress", action="store_true",
                          help="no progress bar (drawn only on a terminal)")
    evaluate.set_defaults(handler=run_eval)


def _register_nextword(commands: argparse._SubParsersAction) -> None:
    nextword = commands.add_parser(
        "nextword", help="seed 000: bidirectional next-word model, leaky vs fixed",
        description="Trains seed 000's bidirectional next-word model on IMDB text and reports "
                    "next-word accuracy per direction; --variant both shows the go_backwards "
                    "leak next to the fixed model.",
    )
    nextword.add_argument("--data", default="imdb-short",
                          help=f"imdb-short (bundled) or imdb (default: imdb-short). "
                               f"{DATA_LOCATIONS_HELP}")
    add_download_option(nextword)
    nextword.add_argument("--variant", default="both",
                          choices=("fixed", "leaky", "leaky-lstm1", "both", "all"),
                          help="leaky: the seed's bug; both: fixed and leaky; "
                               "all: also leaky-lstm1 (only LSTM1's output unflipped)")
    # defaults: NextWordConfig's (the run in benchmarks/RESULTS.md)
    nextword.add_argument("--epochs", type=_POSITIVE, default=8, help="training epochs")
    nextword.add_argument("--vocab-size", type=int_at_least(5, "<pad> <unk> <s> </s> take "
                                                            "ids 0-3"), default=5_000,
                          help="vocabulary size, the four special tokens included")
    nextword.add_argument("--max-tokens", type=_POSITIVE, default=50,
                          help="tokens kept per review")
    nextword.add_argument("--max-reviews", type=_POSITIVE, default=None,
                          help="train on the first N reviews only (default: all)")
    nextword.add_argument("--embedding-size", type=_POSITIVE, default=64,
                          help="word vector size")
    nextword.add_argument("--hidden-size", type=_POSITIVE, default=128,
                          help="LSTM units per direction")
    nextword.add_argument("--batch-size", type=_POSITIVE, default=16, help="reviews per batch")
    nextword.add_argument("--learning-rate", type=float, default=3e-3,
                          help="Adam learning rate")
    nextword.add_argument("--seed", type=int, default=0,
                          help="initial weights and batch order")
    add_threads_option(nextword)
    nextword.add_argument("--output", default=None, metavar="FILE",
                          help="also write the results as JSON (default: not written)")
    nextword.add_argument("--no-progress", action="store_true",
                          help="no progress bar (a bar is drawn only on a terminal; one line "
                               "per epoch is printed either way)")
    nextword.set_defaults(handler=run_nextword)


# --- lm train / eval ---------------------------------------------------------------------------
def _corpus_spec(args: argparse.Namespace) -> dict[str, Any]:
    corpus = args.corpus if args.corpus == "brown" else str(Path(args.corpus).resolve())
    brown_path = str(Path(args.brown_path).resolve()) if args.brown_path else None
    return {"corpus": corpus, "brown_path": brown_path, "max_words": args.max_words}


def run_train(args: argparse.Namespace) -> int:
    from rnnlab.train.distributed import process_group

    apply_threads(args)  # torchrun sets 1 OpenMP thread per process; --threads overrides it
    with process_group():  # under torchrun: one rank of a DDP group, rank 0 writes --out
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    from rnnlab.data.lm_sources import load_corpus
    from rnnlab.models.lm_presets import get_preset
    from rnnlab.train.lm_loop import LMTrainConfig
    from rnnlab.train.lm_run import train_language_model

    preset = get_preset(args.preset)
    name = "brown" if args.corpus == "brown" else Path(args.corpus).name
    run_dir = check_out_dir(args.out or f"runs/lm-{name}-{preset.name}")
    overrides = {"epochs": args.epochs, "batch_size": args.batch_size, "bptt": args.bptt}
    preset = replace(preset, **{k: v for k, v in overrides.items() if v is not None})
    spec = _corpus_spec(args)
    corpus = load_corpus(spec)
    print(f"corpus {args.corpus}: {corpus.summary()}")
    model_config = preset.model_config(len(corpus.vocab), cell=args.cell,
                                       tie_weights=args.tie_weights)
    learning_rate = {} if args.lr is None else {"learning_rate": args.lr}
    train_config = LMTrainConfig.from_preset(preset, eval_batch_size=args.eval_batch_size,
                                             seed=args.seed,
                                             max_eval_tokens=args.max_eval_tokens,
                                             **learning_rate)
    result = train_language_model(corpus, model_config, train_config, run_dir,
                                  corpus_spec=spec, resume=args.resume,
                                  progress=not args.no_progress)
    print(f"run: {run_dir}  valid ppl {result.valid.perplexity:.2f}  "
          f"test ppl {result.test.perplexity:.2f}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from rnnlab.data.lm_sources import load_corpus
    from rnnlab.train import load_run
    from rnnlab.train.lm_run import check_scorable, score_splits

    apply_threads(args)
    run = load_run(args.run_dir, "language_model")
    corpus = load_corpus(run.corpus_spec)
    if tuple(corpus.vocab.tokens) != run.vocab.tokens:
        raise ValueError(f"the corpus {run.corpus_spec['corpus']!r} no longer gives the run's "
                         "vocabulary; it changed since training")
    batch = args.eval_batch_size or run.train_config.eval_batch_size
    check_scorable(corpus, batch, run.train_config.bptt)
    valid, test = score_splits(run.model, corpus, batch, run.train_config.bptt,
                               progress=not args.no_progress)
    epochs = len(run.history)
    print(f"{args.run_dir}: {epochs} epoch(s); eval batch {batch}")
    print(f"valid perplexity {valid.perplexity:.2f}  ({valid.tokens:,} tokens)")
    print(f"test perplexity  {test.perplexity:.2f}  ({test.tokens:,} tokens)")
    return 0


# --- lm nextword -------------------------------------------------------------------------------
def run_nextword(args: argparse.Namespace) -> int:
    from rnnlab.train.lm_nextword import NextWordConfig, compare_next_word
    from rnnlab.train.run_files import dumps_json

    apply_threads(args)
    prepare_named_data(args.data, download=args.download, progress=not args.no_progress)
    config = NextWordConfig(
        data=args.data, epochs=args.epochs, vocab_size=args.vocab_size,
        max_tokens=args.max_tokens, max_reviews=args.max_reviews,
        embedding_size=args.embedding_size, hidden_size=args.hidden_size,
        batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
    )  # fmt: skip
    variants = {"both": ("fixed", "leaky"), "all": ("fixed", "leaky", "leaky-lstm1")}.get(
        args.variant, (args.variant,))
    results = compare_next_word(config, variants, progress=not args.no_progress, log=print)
    print("\n| variant | epoch | forward acc | backward acc |\n|---|---|---|---|")
    for variant, history in results.items():
        for row in history:
            print(f"| {variant} | {row['epoch']} | {row['forward_accuracy']:.2%} | "
                  f"{row['backward_accuracy']:.2%} |")
    if args.output:
        Path(args.output).write_text(dumps_json(results, indent=2) + "\n", encoding="utf-8")
    return 0
