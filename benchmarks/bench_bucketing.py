"""Length-bucketed batches vs a plain shuffle, on the full IMDB, one process, one run.

    RNNLAB_DATA_DIR=../shared/data python benchmarks/bench_bucketing.py \\
        [--maxlen 1000] [--batch-size 64] [--batches 30] [--threads 1] [--json out.json]

A masked classifier (``MS_RST_biLSTM``, embedding 300, bidirectional LSTM(128), max pooling:
run N of RESULTS §4) trims each batch to its longest review, so a batch costs
``batch × longest`` steps whatever its real tokens. For each contender the same model trains
on the first ``--batches`` batches of epoch 1 (forward, backward, Adam step), one contender
after the other, from the same initial weights:

* ``shuffle``: ``bucket_pool_batches=1``, a plain shuffle (Keras fit; the default);
* ``bucket-50``: ``bucket_pool_batches=50`` (``rnnlab train --bucket-pool-batches 50``).

Reported per contender: computed / real tokens over the whole epoch (exact, from the epoch's
batches), the measured real tokens per second, the epoch time that rate projects (all real
training tokens / rate), and GFLOP/s of the recurrent products over real tokens against the
sgemm rate measured in this process. Evaluation is timed the same way on the valid split:
batches in index order (the old ``evaluate_split``) against batches sorted by length (now).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from rnnlab.bench.layers import recurrent_flops, sgemm_gflops
from rnnlab.data import BucketConfig, batch_tensors, bucket_batches, encode_dataset, load_dataset
from rnnlab.data.encoding import EncodingConfig
from rnnlab.data.vocab import VocabConfig
from rnnlab.models.classifier import SequenceClassifier
from rnnlab.train.classifier_run import classifier_config_for
from rnnlab.train.metrics import classification_loss, index_batches, length_sorted_batches

CONTENDERS = {"shuffle": 1, "bucket-50": 50}


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--maxlen", type=int, default=1000)
    parser.add_argument("--vocab-size", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=30, help="timed batches per contender")
    parser.add_argument("--eval-batches", type=int, default=4,
                        help="timed evaluation batches of 256 per contender")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the rows here")
    return parser.parse_args()


def computed_tokens(lengths: np.ndarray, batches: list[np.ndarray]) -> int:
    """Steps a trimmed batch computes: batch size × its longest example, summed."""
    return int(sum(len(index) * int(lengths[index].max()) for index in batches))


def time_training(model: SequenceClassifier, split, batches: list[np.ndarray],
                  padding: str) -> tuple[float, int]:
    """Seconds and real tokens of forward + backward + Adam step over ``batches``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    real, start = 0, time.perf_counter()
    for index in batches:
        ids, lengths, labels = batch_tensors(split.ids, split.lengths, split.labels, index,
                                             padding=padding)
        optimizer.zero_grad(set_to_none=True)
        classification_loss(model(ids, lengths), labels).backward()
        optimizer.step()
        real += int(lengths.sum())
    return time.perf_counter() - start, real


@torch.no_grad()
def time_evaluation(model: SequenceClassifier, split, batches: list[np.ndarray],
                    padding: str) -> tuple[float, int]:
    model.eval()
    real, start = 0, time.perf_counter()
    for index in batches:
        ids, lengths, _ = batch_tensors(split.ids, split.lengths, split.labels, index,
                                        padding=padding)
        model(ids, lengths)
        real += int(lengths.sum())
    return time.perf_counter() - start, real


def main() -> None:
    args = parse_arguments()
    torch.set_num_threads(args.threads)
    data = encode_dataset(load_dataset("imdb"), vocab_config=VocabConfig(max_size=args.vocab_size),
                          encoding=EncodingConfig(maxlen=args.maxlen, padding="post",
                                                  truncating="post"))
    config = classifier_config_for(data, "MS_RST_biLSTM", masked=True, pooling="max",
                                   embedding_size=300, embedding_dropout=0.5)
    hidden = config.hidden_size
    # recurrent FLOPs per real token: both directions, forward + backward (×3)
    flops_per_token = 2 * recurrent_flops((1, 1, config.embedding_size, hidden), 4, True)
    sgemm = sgemm_gflops()
    train, valid = data.train, data.valid
    rows = []
    for name, pool in CONTENDERS.items():
        bucket = BucketConfig(batch_size=args.batch_size, pool_batches=pool)
        epoch = bucket_batches(train.lengths, bucket, seed=0, epoch=1)
        ratio = computed_tokens(train.lengths, epoch) / int(train.lengths.sum())
        model = SequenceClassifier(config, seed=0)
        seconds, real = time_training(model, train, epoch[: args.batches], data.padding)
        rate = real / seconds
        rows.append({"phase": "train", "contender": name, "computed_over_real": ratio,
                     "real_tokens_per_s": rate,
                     "projected_epoch_s": int(train.lengths.sum()) / rate,
                     "real_gflops": rate * flops_per_token / 1e9, "sgemm_gflops": sgemm})
    for name, batches in (("index order", index_batches(len(valid), 256)),
                          ("length-sorted", length_sorted_batches(valid.lengths, 256))):
        ratio = computed_tokens(valid.lengths, batches) / int(valid.lengths.sum())
        # the same share of the split either way: every k-th batch
        step = max(len(batches) // args.eval_batches, 1)
        model = SequenceClassifier(config, seed=0)
        seconds, real = time_evaluation(model, valid, batches[::step][: args.eval_batches],
                                        data.padding)
        rate = real / seconds
        rows.append({"phase": "eval", "contender": name, "computed_over_real": ratio,
                     "real_tokens_per_s": rate,
                     "projected_epoch_s": int(valid.lengths.sum()) / rate,
                     "real_gflops": rate * flops_per_token / 3 / 1e9, "sgemm_gflops": sgemm})
    print(f"IMDB train {len(train):,} / valid {len(valid):,} reviews, maxlen {args.maxlen}, "
          f"batch {args.batch_size}, {args.threads} thread(s); sgemm {sgemm:.0f} GFLOP/s")
    print("| phase | batches | computed / real tokens | real tokens/s | projected split time "
          "| real-token GFLOP/s (% sgemm) | speedup |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        base = next(r for r in rows if r["phase"] == row["phase"])
        print(f"| {row['phase']} | {row['contender']} | {row['computed_over_real']:.2f} | "
              f"{row['real_tokens_per_s']:,.0f} | {row['projected_epoch_s']:.0f} s | "
              f"{row['real_gflops']:.1f} ({row['real_gflops'] / sgemm:.0%}) | "
              f"{row['real_tokens_per_s'] / base['real_tokens_per_s']:.2f}x |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
