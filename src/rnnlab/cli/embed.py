"""``rnnlab embed word2vec``: word vectors trained on a dataset's training texts (gensim).

    rnnlab embed word2vec --data imdb-short --out pretrained/w2v-imdb-short
    rnnlab embed word2vec --data imdb --algorithm cbow --dim 100 --out w2v-cbow

The folder (vectors.npy, words.json) is what a classifier's ``embedding_vectors`` setting
reads; the coverage printed is that of the vocabulary a classifier fits on the same texts.
"""

from __future__ import annotations

import argparse

from rnnlab.cli.common import check_out_dir
from rnnlab.cli.datasets import DATA_LOCATIONS_HELP, add_download_option, prepare_named_data


def register(subparsers: argparse._SubParsersAction) -> None:
    from rnnlab.embeddings.word2vec import ALGORITHMS, Word2VecConfig

    defaults = Word2VecConfig()
    embed = subparsers.add_parser(
        "embed", help="pretrain word vectors (Word2Vec) for a classifier's embedding",
        description="Pretrained word vectors for transfer: trained on the training texts only.")
    commands = embed.add_subparsers(dest="embed_command", metavar="KIND", required=True)
    parser = commands.add_parser(
        "word2vec", help="Word2Vec (skip-gram or CBOW) with gensim, one seeded worker",
        description="Trains Word2Vec on the training split of --data (tokenized as the "
                    "classifier tokenizes it) and writes vectors.npy and words.json to --out, "
                    "atomically; prints the coverage of a classifier vocabulary.")
    parser.add_argument("--data", required=True, help="imdb, imdb-short or a path (folder, "
                        f"csv, jsonl, tar.gz), as rnnlab train --data. {DATA_LOCATIONS_HELP}")
    add_download_option(parser)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="a new folder for the vectors (required; never overwritten)")
    parser.add_argument("--algorithm", choices=ALGORITHMS, default=defaults.algorithm,
                        help="skip-gram or continuous bag of words")
    parser.add_argument("--dim", type=int, default=defaults.dim,
                        help="vector size (= the classifier's embedding_size)")
    parser.add_argument("--window", type=int, default=defaults.window,
                        help="context words each side")
    parser.add_argument("--min-count", type=int, default=defaults.min_count,
                        help="words seen fewer times get no vector")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="passes over the texts")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed")
    parser.add_argument("--vocab-size", type=int, default=20_000,
                        help="the classifier vocabulary the coverage is reported for (ids, "
                             "<pad> and <unk> included)")
    parser.set_defaults(handler=run_word2vec)


def run_word2vec(args: argparse.Namespace) -> int:
    from rnnlab.embeddings.commands import embed_word2vec
    from rnnlab.embeddings.word2vec import Word2VecConfig

    out = check_out_dir(args.out)
    config = Word2VecConfig(dim=args.dim, algorithm=args.algorithm, window=args.window,
                            min_count=args.min_count, epochs=args.epochs, seed=args.seed)
    prepare_named_data(args.data, download=args.download)
    summary = embed_word2vec(args.data, out, config, vocab_size=args.vocab_size)
    print(summary)
    return 0
