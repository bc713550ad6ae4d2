"""``rnnlab lm``: train and evaluate language models; seed 000's next-word demonstration.

    rnnlab lm train --corpus brown --preset small --out runs/brown-small
    rnnlab lm train --corpus brown --preset small --out runs/brown-small --resume
    rnnlab lm train --corpus brown --preset awd-small --out runs/brown-awd   # AWD-LSTM
    rnnlab lm eval runs/brown-small
    rnnlab lm nextword --variant all                     # fixed, leaky, leaky-lstm1
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from rnnlab.cli import lm_nextword
from rnnlab.cli.common import (
    add_threads_option,
    apply_threads,
    check_out_dir,
    float_or_nan,
    int_at_least,
    positive_float,
    probability,
)
from rnnlab.core.registry import LSTM_CELLS

_POSITIVE = int_at_least(1)


def _preset_default(what: str) -> str:
    """"... (awd 0.4)" → "... (default: the preset's; awd 0.4)": None means the preset's."""
    return what.replace("(awd ", "(default: the preset's; awd ")


def _non_negative(text: str) -> float:
    """An argparse ``type``: a float >= 0 (a regulariser's weight; 0 is off)."""
    if not 0.0 <= float_or_nan(text) < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0 (0 is off), got {text!r}")
    return float(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lm", help="language models: train/eval a TBPTT LSTM LM; seed 000's next-word model",
        description="Stacked LSTM language models with Zaremba et al.'s presets, trained with "
                    "truncated BPTT; and seed 000's bidirectional next-word model.",
    )
    commands = parser.add_subparsers(dest="lm_command", metavar="LM_COMMAND", required=True)
    _register_train(commands)
    _register_eval(commands)
    lm_nextword.register(commands)


def _register_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train an LSTM LM (checkpoint every epoch)")
    train.add_argument("--corpus", required=True,
                       help="'brown' (Bengio et al. 2003's split) or a folder with PTB-format "
                            "train/valid/test files (ptb.train.txt ... or train.txt ...); "
                            "required, no default")
    train.add_argument("--preset", default="small",
                       choices=("small", "medium", "large", "awd", "awd-small"),
                       help="small/medium/large: Zaremba et al. (2014); awd: AWD-LSTM's PTB "
                            "setting (Merity et al. 2017); awd-small: AWD-LSTM sized for "
                            "Brown on one CPU thread (default: small)")
    train.add_argument("--out", default=None,
                       help="run directory (default: runs/lm-CORPUS-PRESET)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its last checkpoint")
    train.add_argument("--epochs", type=_POSITIVE, default=None,
                       help="epochs (default: the preset's: small 13, medium 39, large 55, "
                            "awd 750, awd-small 60)")
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
                       help="share embedding and decoder weights (default: off; the awd "
                            "presets tie always)")
    train.add_argument("--seed", type=int, default=0,
                       help="initial weights and dropout (default 0)")
    train.add_argument("--brown-path", default=None,
                       help="Brown corpus folder or brown.tar.gz (default: "
                            "$RNNLAB_DATA_DIR/brown/brown.tar.gz, a checkout's "
                            "../shared/data, the cache or ~/nltk_data)")
    train.add_argument("--lr", type=float, default=None,
                       help="initial SGD learning rate (default: the preset's: 1.0; awd 30)")
    regularisers = train.add_argument_group(
        "AWD-LSTM regularisers (default: the preset's; off for small/medium/large)")
    for flag, what in (("--dropoute", "embedding dropout: whole words (awd 0.1)"),
                       ("--dropouti", "locked dropout of the word vectors (awd 0.4)"),
                       ("--dropouth", "locked dropout between LSTM layers (awd 0.3)"),
                       ("--dropouto", "locked dropout of the last layer's output (awd 0.4)"),
                       ("--wdrop", "weight drop (DropConnect) on W_hh (awd 0.5)")):
        regularisers.add_argument(flag, type=probability, default=None, metavar="P",
                                  help=_preset_default(what))
    regularisers.add_argument("--alpha", type=_non_negative, default=None,
                              help=_preset_default("activation regularisation AR (awd 2)"))
    regularisers.add_argument("--beta", type=_non_negative, default=None,
                              help=_preset_default("temporal activation regularisation TAR "
                                                   "(awd 1)"))
    regularisers.add_argument("--weight-decay", type=_non_negative, default=None,
                              help=_preset_default("SGD weight decay (awd 1.2e-6)"))
    regularisers.add_argument("--nonmono", type=int_at_least(0), default=None, metavar="N",
                              help=_preset_default("NT-ASGD: average once valid is worse than "
                                                   "the best of more than N epochs back (awd 5)"))
    regularisers.add_argument("--clip", type=positive_float, default=None,
                              help="gradient-norm clip (default: the preset's: small 5; awd "
                                   "0.25)")
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
    overrides = {"epochs": args.epochs, "batch_size": args.batch_size, "bptt": args.bptt,
                 "embedding_dropout": args.dropoute, "input_dropout": args.dropouti,
                 "layer_dropout": args.dropouth, "output_dropout": args.dropouto,
                 "weight_dropout": args.wdrop, "ar": args.alpha, "tar": args.beta,
                 "weight_decay": args.weight_decay, "nonmono": args.nonmono,
                 "max_grad_norm": args.clip}
    preset = replace(preset, **{k: v for k, v in overrides.items() if v is not None})
    spec = _corpus_spec(args)
    corpus = load_corpus(spec)
    print(f"corpus {args.corpus}: {corpus.summary()}")
    model_config = preset.model_config(len(corpus.vocab), cell=args.cell,
                                       tie_weights=args.tie_weights or preset.tie_weights)
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
