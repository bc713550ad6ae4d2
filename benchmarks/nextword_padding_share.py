"""What a next-word accuracy reads as when padded positions count as targets.

    RNNLAB_DATA_DIR=../shared/data python benchmarks/nextword_padding_share.py \\
        --accuracy 0.175 --max-lens 100,200,250,300,400,500

rnnlab scores a next-word model on real targets only (``rnnlab.train.nextword_eval``). A
Keras model fit on padded sequences without a mask scores every position, and the target of
a padded position is padding, which such a model learns to predict within an epoch. With a
share ``p`` of padded positions at maxlen ``L`` and accuracy ``a`` on the real targets, the
all-positions accuracy is about ``p + (1 − p) · a``. This prints ``p`` for the IMDB
training reviews (tokenised and wrapped in ``<s> … </s>`` as ``rnnlab lm nextword`` does)
and that reading of ``a`` at each ``L``: the bridge between our per-direction accuracy and
seed 000's ~44 %, whose maxlen and masking the seed does not give.
"""

from __future__ import annotations

import argparse

import numpy as np


def padding_share(lengths: np.ndarray, max_len: int) -> float:
    """The share of padded positions when every sequence is cut or padded to ``max_len``."""
    return float(1.0 - np.minimum(lengths, max_len).mean() / max_len)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accuracy", type=float, default=0.175,
                        help="accuracy on real targets to read (default 0.175: the bi-LM's "
                             "per-direction accuracy after one epoch)")
    parser.add_argument("--max-lens", default="100,200,250,300,400,500",
                        help="comma-separated maxlen values")
    args = parser.parse_args(argv)

    from rnnlab.data import tokenize_all
    from rnnlab.data.imdb import load_imdb

    train = load_imdb(progress=False).train
    lengths = np.array([len(tokens) + 2 for tokens in tokenize_all(train.texts)])  # <s> </s>
    print(f"IMDB training reviews: {len(lengths)}; tokens per review with <s> </s>: mean "
          f"{lengths.mean():.1f}, median {np.median(lengths):.0f}")
    print("| maxlen | padded share | accuracy over all positions |")
    print("|---:|---:|---:|")
    for max_len in (int(part) for part in args.max_lens.split(",")):
        share = padding_share(lengths, max_len)
        print(f"| {max_len} | {share:.1%} | {share + (1 - share) * args.accuracy:.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
