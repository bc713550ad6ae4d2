"""``rnnlab lm nextword``: seed 000's bidirectional next-word model, as a run or a comparison.

    rnnlab lm nextword --data imdb --softmax adaptive --vocab-size 20000 --out runs/bilm
    rnnlab lm nextword --data imdb --softmax adaptive --vocab-size 20000 --out runs/bilm \\
        --resume                                       # after a kill: the same weights
    rnnlab audit runs/bilm                             # the leak audit again
    rnnlab lm nextword --variant all                   # fixed, leaky, leaky-lstm1 side by side
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnlab.cli.common import (
    add_threads_option,
    apply_threads,
    check_out_dir,
    int_at_least,
    probability,
)
from rnnlab.cli.datasets import DATA_LOCATIONS_HELP, add_download_option, prepare_named_data

_POSITIVE = int_at_least(1)
_GROUPS = {"both": ("fixed", "leaky"), "all": ("fixed", "leaky", "leaky-lstm1")}
# flag → BidirectionalLMConfig field (the names `rnnlab lm train` gives the same regularisers)
REGULARISER_FLAGS = {"--dropoute": "embedding_dropout", "--dropouti": "input_dropout",
                     "--dropouth": "layer_dropout", "--wdrop": "weight_dropout"}


def _cutoffs(text: str) -> tuple[int, ...]:
    """argparse ``type`` of ``--cutoffs``: ``2000,10000``."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or any(value < 1 for value in values):
        raise argparse.ArgumentTypeError(
            f"must be increasing positive integers separated by commas, e.g. 2000,10000, got "
            f"{text!r}")
    return values


def register(commands: argparse._SubParsersAction) -> None:
    nextword = commands.add_parser(
        "nextword", help="seed 000: bidirectional next-word model (a run with --out; leaky "
                         "vs fixed without)",
        description="Trains seed 000's bidirectional next-word model (forward predicts t+1, "
                    "backward t-1) and reports next-word accuracy and perplexity per "
                    "direction on held-out text. Validation is always a part held out of the "
                    "TRAINING texts: with imdb the valid split of the training reviews; the "
                    "IMDB test reviews are never read, so a classifier transferred from this "
                    "model can still be scored on them. With --out DIR the model is a "
                    "resumable run (checkpoint every epoch, vocab, config, metrics) that ends "
                    "with the leak audit's verdict (exit code 1 when it finds a leak, as "
                    "`rnnlab audit`); without --out the variants are trained side by side in "
                    "memory to show the go_backwards leak.",
    )
    nextword.add_argument("--data", default="imdb-short",
                          help="imdb-short (bundled), imdb (its training reviews), brown "
                               "(sentences of the first 800k words; the next 200k validate), "
                               "or a path: a .txt file (one text per line) or a dataset file "
                               "or folder (its train texts) (default: imdb-short). "
                               f"{DATA_LOCATIONS_HELP}")
    add_download_option(nextword)
    nextword.add_argument("--brown-path", default=None,
                          help="with --out and --data brown: the Brown corpus folder or "
                               "brown.tar.gz (default: $RNNLAB_DATA_DIR/brown/brown.tar.gz, a "
                               "checkout's ../shared/data, the cache or ~/nltk_data)")
    nextword.add_argument("--valid-fraction", type=float, default=0.1,
                          help="with --out: share of the training texts held out to validate "
                               "(imdb: of each label; a .txt file: of its lines)")
    nextword.add_argument("--out", default=None, metavar="DIR",
                          help="train one variant as a resumable run in DIR (default: not "
                               "set, compare the variants in memory)")
    nextword.add_argument("--resume", action="store_true",
                          help="continue the run in --out from its last checkpoint")
    nextword.add_argument("--variant", default=None,
                          choices=("fixed", "leaky", "leaky-lstm1", "both", "all"),
                          help="leaky: the seed's bug; leaky-lstm1: only LSTM1's output "
                               "unflipped; both: fixed and leaky; all: the three (default: "
                               "fixed with --out, else both)")
    # defaults: NextWordConfig's (the run in benchmarks/RESULTS.md)
    nextword.add_argument("--epochs", type=_POSITIVE, default=8, help="training epochs")
    nextword.add_argument("--vocab-size", type=int_at_least(5, "<pad> <unk> <s> </s> take "
                                                            "ids 0-3"), default=5_000,
                          help="vocabulary size, the four special tokens included")
    nextword.add_argument("--softmax", default="full", choices=("full", "adaptive"),
                          help="with --out: full (one linear layer over the vocabulary) or "
                               "adaptive (torch.nn.AdaptiveLogSoftmaxWithLoss, exact and ~5-10x "
                               "cheaper for ~20k words on CPU)")
    nextword.add_argument("--cutoffs", type=_cutoffs, default=None,
                          help="with --softmax adaptive: where the frequency-sorted ids split "
                               "into head and clusters, e.g. 2000,10000 (default: 2000,10000, "
                               "those below the vocabulary size; a vocabulary <= 2000 gets one "
                               "cutoff at a quarter of it)")
    nextword.add_argument("--dropout", type=probability, default=0.0,
                          help="with --out: dropout on the embedding and before the softmax")
    awd = nextword.add_argument_group(
        "AWD-LSTM regularisers of the encoder (with --out; Merity et al. 2017, as `rnnlab lm "
        "train --preset awd`; default: all off)")
    for flag, what in (("--dropoute", "embedding dropout: whole words (awd 0.1)"),
                       ("--dropouti", "locked dropout of the word vectors (awd 0.4)"),
                       ("--dropouth", "locked dropout of LSTM1's output where LSTM2 reads it "
                                      "(awd 0.3)"),
                       ("--wdrop", "weight drop (DropConnect) on W_hh of every LSTM (awd 0.5)")):
        awd.add_argument(flag, type=probability, default=0.0, metavar="P",
                         help=f"{what[:-1]}; default 0, off)")
    nextword.add_argument("--max-tokens", type=_POSITIVE, default=50,
                          help="tokens kept per review")
    nextword.add_argument("--max-reviews", type=_POSITIVE, default=None,
                          help="train on the first N training texts only (default: all)")
    nextword.add_argument("--embedding-size", type=_POSITIVE, default=64,
                          help="word vector size")
    nextword.add_argument("--hidden-size", type=_POSITIVE, default=128,
                          help="LSTM units per direction")
    nextword.add_argument("--batch-size", type=_POSITIVE, default=16, help="reviews per batch")
    nextword.add_argument("--bucket-pool-batches", type=_POSITIVE, default=1, metavar="N",
                          help="batch texts of similar length together: shuffle, sort pools "
                               "of N batches by length, shuffle the batches (50: ~3x fewer "
                               "computed tokens on IMDB at --max-tokens 1000, a ~3x faster "
                               "epoch); default 1, a plain shuffle")
    nextword.add_argument("--learning-rate", type=float, default=3e-3,
                          help="Adam learning rate")
    nextword.add_argument("--seed", type=int, default=0,
                          help="initial weights and batch order")
    add_threads_option(nextword)
    nextword.add_argument("--output", default=None, metavar="FILE",
                          help="without --out: also write the results as JSON (default: not "
                               "written)")
    nextword.add_argument("--no-progress", action="store_true",
                          help="no progress bar (a bar is drawn only on a terminal; one line "
                               "per epoch is printed either way)")
    nextword.set_defaults(handler=run_nextword)


def run_nextword(args: argparse.Namespace) -> int:
    apply_threads(args)
    _check_combination(args)
    prepare_named_data(args.data, download=args.download, progress=not args.no_progress)
    return _compare(args) if args.out is None else _train_run(args)


def _check_combination(args: argparse.Namespace) -> None:
    if args.out is None:
        run_only = {"--resume": args.resume, "--softmax adaptive": args.softmax != "full",
                    "--cutoffs": args.cutoffs is not None, "--dropout": args.dropout != 0.0,
                    **{flag: getattr(args, flag[2:]) != 0.0 for flag in REGULARISER_FLAGS},
                    "--brown-path": args.brown_path is not None,
                    "--valid-fraction": args.valid_fraction != 0.1}
        given = [name for name, used in run_only.items() if used]
        if given:
            raise ValueError(f"{', '.join(given)} apply to a run: add --out DIR (without it the "
                             "variants are compared in memory with the seed's plain settings)")
    elif args.variant in _GROUPS:
        raise ValueError(f"--variant {args.variant} trains several models; a run (--out) is "
                         "one: give --variant fixed, leaky or leaky-lstm1, one --out each")
    elif args.output is not None:
        raise ValueError("--output is the comparison's JSON; a run (--out) writes "
                         "metrics.json into its directory")
    if args.cutoffs is not None and args.softmax != "adaptive":
        raise ValueError(f"--cutoffs {','.join(map(str, args.cutoffs))} needs --softmax "
                         "adaptive")


def _train_run(args: argparse.Namespace) -> int:
    from rnnlab.data.nextword_sources import NextWordDataConfig
    from rnnlab.diagnostics.nextword_leaks import audit_for_training
    from rnnlab.train.nextword_run import (
        NextWordTrainConfig,
        model_config_for,
        summary_lines,
        train_nextword_run,
    )

    run_dir = check_out_dir(args.out)
    data = NextWordDataConfig(data=args.data, vocab_size=args.vocab_size,
                              max_tokens=args.max_tokens, max_texts=args.max_reviews,
                              valid_fraction=args.valid_fraction, brown_path=args.brown_path)
    model = model_config_for(args.variant or "fixed", args.vocab_size,
                             embedding_size=args.embedding_size, hidden_size=args.hidden_size,
                             dropout=args.dropout, softmax=args.softmax, cutoffs=args.cutoffs,
                             **{field: getattr(args, flag[2:])
                                for flag, field in REGULARISER_FLAGS.items()})
    train = NextWordTrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                                learning_rate=args.learning_rate, seed=args.seed,
                                bucket_pool_batches=args.bucket_pool_batches)
    result = train_nextword_run(data, model, train, run_dir, resume=args.resume,
                                progress=not args.no_progress, audit=audit_for_training)
    print("\n" + "\n".join(summary_lines(result)))
    return 0 if result.leak_report is not None and result.leak_report.passed else 1


def _compare(args: argparse.Namespace) -> int:
    from rnnlab.train.lm_nextword import NextWordConfig, compare_next_word
    from rnnlab.train.run_files import dumps_json

    config = NextWordConfig(
        data=args.data, epochs=args.epochs, vocab_size=args.vocab_size,
        max_tokens=args.max_tokens, max_reviews=args.max_reviews,
        embedding_size=args.embedding_size, hidden_size=args.hidden_size,
        batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
        bucket_pool_batches=args.bucket_pool_batches,
    )  # fmt: skip
    variant = args.variant or "both"
    results = compare_next_word(config, _GROUPS.get(variant, (variant,)),
                                progress=not args.no_progress, log=print)
    print("\n| variant | epoch | forward acc | backward acc |\n|---|---|---|---|")
    for name, history in results.items():
        for row in history:
            print(f"| {name} | {row['epoch']} | {row['forward_accuracy']:.2%} | "
                  f"{row['backward_accuracy']:.2%} |")
    if args.output:
        Path(args.output).write_text(dumps_json(results, indent=2) + "\n", encoding="utf-8")
    return 0
