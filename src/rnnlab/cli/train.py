"""``rnnlab train``, ``rnnlab evaluate`` and ``rnnlab predict``: classifiers from the shell.

    rnnlab train --data imdb-short --arch MS_RST_LSTM --epochs 5 --seed 0 --out runs/x
    rnnlab evaluate runs/x --data imdb-short
    rnnlab predict runs/x "a wonderful, moving film"
"""

from __future__ import annotations

import argparse
from typing import Any

from rnnlab.cli.common import add_threads_option, apply_threads, check_out_dir, int_at_least
from rnnlab.cli.datasets import DATA_LOCATIONS_HELP, add_download_option, prepare_named_data
from rnnlab.data import EncodingConfig, VocabConfig, dataset_names, load_dataset
from rnnlab.models import SEED_ARRANGEMENTS
from rnnlab.models.config import CLASSIFIER_CELLS, POOLINGS
from rnnlab.train import (
    EpochMetrics,
    TrainConfig,
    classifier_config_for,
    encode_dataset,
    evaluate_run,
    load_run,
    predict_texts,
    train_classifier,
)
from rnnlab.train.distributed import process_group
from rnnlab.train.run_files import dumps_json

_POSITIVE = int_at_least(1)
_USER_DATA_OPTIONS = ("valid", "test", "text_field", "label_field", "csv_multiline")


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_train(subparsers)
    _register_evaluate(subparsers)
    # `rnnlab predict` is registered by rnnlab.cli.predict (run directories and exports);
    # it calls run_predict below for a run directory.


# -- data options shared by train and evaluate --------------------------------------------------
def _add_data_options(parser: argparse.ArgumentParser, *, required: bool,
                      default_data: str) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", required=required,
                       help=f"a dataset name {list(dataset_names())} or a path: an aclImdb "
                            "folder or .tar.gz, a folder of class sub-folders, a .csv/.jsonl"
                            f" (default: {default_data}). {DATA_LOCATIONS_HELP}")
    add_download_option(group)
    group.add_argument("--valid", help="a separate validation file/folder (own data only; "
                                       "default: held out from train)")
    group.add_argument("--test", help="a separate test file/folder (own data only; default: "
                                      "held out from train, or the dataset's test split)")
    group.add_argument("--text-field", help="text column of a .csv/.jsonl (default: text)")
    group.add_argument("--label-field", help="label column of a .csv/.jsonl (default: label)")
    group.add_argument("--csv-multiline", action="store_true", default=None,
                       help="quoted .csv/.tsv texts may hold line breaks (default: off: a "
                            "record spanning lines is refused as a probable stray quote)")
    group.add_argument("--valid-fraction", type=float, default=0.1,
                       help="share of train held out as valid when no --valid (default 0.1)")
    group.add_argument("--split-seed", type=int, default=0,
                       help="seed of the train/valid(/test) split (default 0)")


def _load(args: argparse.Namespace, data: str, *, for_training: bool = False):
    kwargs: dict[str, Any] = {"valid_fraction": args.valid_fraction, "seed": args.split_seed}
    if for_training and data not in dataset_names():
        kwargs["min_classes"] = 2  # one class: refused before anything is written
    given = {name: getattr(args, name) for name in _USER_DATA_OPTIONS
             if getattr(args, name) is not None}
    if given and data in dataset_names():
        options = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ValueError(f"{options} apply to your own files, not to the dataset {data!r}")
    prepare_named_data(data, download=args.download, progress=not args.no_progress)
    return load_dataset(data, **kwargs, **given)


# -- train ---------------------------------------------------------------------------------------
def _register_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a recurrent text classifier (seed 002's arrangements)",
        description="Train a classifier, checkpointing every epoch into --out.")
    _add_data_options(parser, required=False, default_data="imdb-short")
    parser.set_defaults(data="imdb-short")
    encoding = parser.add_argument_group("encoding")
    encoding.add_argument("--vocab-size", type=int_at_least(2, "PAD and OOV take ids 0 and 1"),
                          default=5000,
                          help="vocabulary size, PAD and OOV included (default 5000)")
    encoding.add_argument("--maxlen", type=_POSITIVE, default=100,
                          help="tokens kept per text (default 100)")
    encoding.add_argument("--padding", choices=("pre", "post"), default="pre",
                          help="pad and truncate on this side (default pre, as Keras)")
    model = parser.add_argument_group("model")
    model.add_argument("--arch", default="SS_RSF_LSTM", metavar="NAME",
                       help=f"a seed-002 arrangement: {', '.join(SEED_ARRANGEMENTS)} "
                            "(default SS_RSF_LSTM); the options below override it")
    model.add_argument("--masked", action=argparse.BooleanOptionalAction, default=False,
                       help="pass lengths so padding never enters a state (default: no, as "
                            "seed 002's Keras model)")
    model.add_argument("--cell", choices=CLASSIFIER_CELLS,
                       help="recurrent cell (default: the arch's)")
    model.add_argument("--layers", type=_POSITIVE,
                       help="stacked recurrent layers (default: the arch's)")
    model.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=None,
                       help="forward and backward directions (default: the arch's)")
    model.add_argument("--pooling", choices=POOLINGS,
                       help="last state, mean or max of states (default: the arch's)")
    model.add_argument("--embedding", type=_POSITIVE, help="embedding size (default 64)")
    model.add_argument("--hidden", type=_POSITIVE,
                       help="recurrent size per direction (default 128)")
    model.add_argument("--dense", type=int_at_least(0),
                       help="dense layer size, 0 = none (default 64)")
    model.add_argument("--dropout", type=float,
                       help="dropout between recurrent layers (default 0, as seed 002)")
    model.add_argument("--embedding-dropout", type=float,
                       help="dropout on the word vectors in training (default 0, as seed 002)")
    model.add_argument("--pooled-dropout", type=float,
                       help="dropout on the pooled recurrent summary (default 0, as seed 002)")
    model.add_argument("--recurrent-dropout", type=float,
                       help="Gal's dropout of h(t-1) where it enters W_hh, one mask per "
                            "review (Keras's recurrent_dropout; runs inside rnnlab's kernels) "
                            "(default 0)")
    model.add_argument("--weight-drop", type=float, dest="weight_dropout",
                       help="DropConnect on the hidden-to-hidden weights, redrawn per batch "
                            "(AWD-LSTM's; the fused kernels stay) (default 0)")
    model.add_argument("--init", choices=("keras", "torch"), help="initialisers (default keras)")
    transfer = parser.add_argument_group("transfer (pretrained on the training texts)")
    transfer.add_argument("--embedding-vectors", metavar="DIR",
                          help="initialise the embedding from `rnnlab embed word2vec --out DIR` "
                               "(its --dim must equal --embedding) (default: random init)")
    transfer.add_argument("--freeze-embedding", action="store_true", default=None,
                          help="keep the embedding fixed in training (default: off)")
    transfer.add_argument("--encoder-run", metavar="RUN",
                          help="ELMo-style features from the bi-LM of `rnnlab lm nextword --out "
                               "RUN` beside the word vectors (default: none)")
    transfer.add_argument("--encoder-training", choices=("frozen", "finetune"),
                          help="frozen: ELMo (only the mix and the classifier train); finetune: "
                               "ULMFiT's discriminative rates and gradual unfreezing "
                               "(default: frozen)")
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=_POSITIVE, default=5, help="(default 5)")
    training.add_argument("--seed", type=int, default=0, help="initial weights (default 0)")
    training.add_argument("--data-seed", type=int, help="batch order (default: --seed)")
    training.add_argument("--batch-size", type=_POSITIVE, default=32, help="(default 32)")
    training.add_argument("--bucket-pool-batches", type=_POSITIVE, default=1, metavar="N",
                          help="with --masked: batch reviews of similar length together "
                               "(shuffle, sort pools of N batches by length, shuffle the "
                               "batches); 50 computes ~3x fewer tokens on IMDB at --maxlen "
                               "1000 (default 1: a plain shuffle, as Keras fit)")
    training.add_argument("--lr", type=float, default=1e-3,
                          help="Adam learning rate (default 1e-3)")
    training.add_argument("--lr-decay", type=float, default=1.0, metavar="FACTOR",
                          help="multiply the learning rate by FACTOR (in (0, 1]) at the start "
                               "of every epoch after the first --lr-decay-after (default 1: "
                               "constant)")
    training.add_argument("--lr-decay-after", type=int, default=1, metavar="EPOCHS",
                          help="epochs at the full rate before the decay starts (default 1)")
    training.add_argument("--clip", type=float,
                          help="clip the gradient norm to this value (default: no clipping)")
    training.add_argument("--patience", type=_POSITIVE,
                          help="stop after this many epochs without a better valid loss and "
                               "restore the best epoch (default: no early stopping)")
    training.add_argument("--out", required=True,
                          help="run directory (created); required, no default")
    training.add_argument("--resume", action="store_true",
                          help="continue the run in --out where its checkpoint left off "
                               "(default: off; an existing run is refused)")
    training.add_argument("--no-progress", action="store_true",
                          help="no progress bar (a bar is drawn only on a terminal; one line "
                               "per epoch is printed either way)")
    add_threads_option(training)
    parser.set_defaults(handler=run_train)


_MODEL_OVERRIDES = {"cell": "cell", "layers": "num_layers", "bidirectional": "bidirectional",
                    "pooling": "pooling", "embedding": "embedding_size",
                    "hidden": "hidden_size", "dense": "dense_size", "dropout": "dropout",
                    "embedding_dropout": "embedding_dropout",
                    "pooled_dropout": "pooled_dropout",
                    "recurrent_dropout": "recurrent_dropout",
                    "weight_dropout": "weight_dropout",
                    "init": "init", "embedding_vectors": "embedding_vectors",
                    "freeze_embedding": "freeze_embedding", "encoder_run": "encoder_run",
                    "encoder_training": "encoder_training"}


def run_train(args: argparse.Namespace) -> int:
    apply_threads(args)  # torchrun sets 1 OpenMP thread per process; --threads overrides it
    check_out_dir(args.out)
    with process_group():  # under torchrun: one rank of a DDP group, rank 0 writes --out
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    dataset = _load(args, args.data, for_training=True)
    encoding = EncodingConfig(maxlen=args.maxlen, padding=args.padding,
                              truncating=args.padding)
    data = encode_dataset(dataset, vocab_config=VocabConfig(max_size=args.vocab_size),
                          encoding=encoding)
    overrides = {field: getattr(args, option) for option, field in _MODEL_OVERRIDES.items()
                 if getattr(args, option) is not None}
    config = classifier_config_for(data, args.arch, masked=args.masked, **overrides)
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                               lr_decay=args.lr_decay, lr_decay_after=args.lr_decay_after,
                               clip_grad_norm=args.clip, patience=args.patience,
                               bucket_pool_batches=args.bucket_pool_batches)
    print(dataset.summary())
    print(f"model: {config.label} cell={config.resolved_cell} layers={config.num_layers} "
          f"bidirectional={config.bidirectional} pooling={config.pooling} "
          f"masked={config.masked}, vocabulary {len(data.vocab)}, maxlen {args.maxlen}")
    result = train_classifier(
        config, data, seed=args.seed, data_seed=args.data_seed, out_dir=args.out,
        train_config=train_config, resume=args.resume, on_epoch=_print_epoch,
        progress=not args.no_progress)
    final = result.final
    # An empty test split (all examples went to train, e.g. one per class) is not an error:
    # the split sizes were printed before training, the model is still worth having, and
    # metrics.json records null. Refusing would throw the trained run away for a missing score.
    if final.test_loss is None:
        scores = "test_accuracy n/a  test_loss n/a (the test split is empty)"
    else:
        scores = f"test_accuracy {final.test_accuracy:.4f}  test_loss {final.test_loss:.4f}"
    print(f"{scores}  (epoch {final.epoch}; metrics in {args.out}/metrics.json)")
    return 0


def _print_epoch(metrics: EpochMetrics) -> None:
    def pair(loss: float | None, accuracy: float | None) -> str:
        return "-" if loss is None else f"loss {loss:.4f} acc {accuracy:.4f}"

    print(f"epoch {metrics.epoch}: train {pair(metrics.train_loss, metrics.train_accuracy)} | "
          f"valid {pair(metrics.valid_loss, metrics.valid_accuracy)} | "
          f"test {pair(metrics.test_loss, metrics.test_accuracy)} ({metrics.seconds:.1f} s)",
          flush=True)


# -- evaluate --------------------------------------------------------------------------------------
def _register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="loss and accuracy of a trained run on a dataset",
        description="Evaluate the model saved in RUN_DIR (by `rnnlab train`).")
    parser.add_argument("run_dir", metavar="RUN_DIR",
                        help="a run directory written by `rnnlab train --out`")
    _add_data_options(parser, required=False, default_data="the dataset the run was trained on")
    parser.add_argument("--split", choices=("train", "valid", "test"), default="test",
                        help="which split of the data to score (default: test)")
    parser.add_argument("--json", action="store_true",
                        help="print the result as JSON (default: off, one line of text)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar for the download or the evaluation (a bar is "
                             "drawn only on a terminal)")
    add_threads_option(parser)
    parser.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    apply_threads(args)
    run = load_run(args.run_dir, "classifier")
    data = args.data
    if data is None:
        saved = run.payload.get("data_name")
        if saved not in dataset_names():
            raise ValueError("--data is required: the run was not trained on a named dataset")
        data = saved
    result = evaluate_run(run, _load(args, data), split=args.split,
                          progress=not args.no_progress)
    if args.json:
        print(dumps_json(result))
    else:
        print(f"{args.split}: {result['examples']} examples  accuracy {result['accuracy']:.4f}"
              f"  loss {result['loss']:.4f}")
    return 0


# -- predict (registered by rnnlab.cli.predict) ---------------------------------------------------
def run_predict(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir, "classifier")
    for text, prediction in zip(args.texts, predict_texts(run, args.texts), strict=True):
        preview = text if len(text) <= 60 else text[:57] + "..."
        print(f"{prediction.label}\t{prediction.probability:.4f}\t{preview}")
    return 0
