"""rnnlab.LSTM/GRU and the variant cells against torch.nn, in the same process.

    python benchmarks/bench_layers.py [--repeats 7] [--output benchmarks/layers.md]

Same as ``rnnlab bench``; kept here so the benchmarks folder holds every comparison.
"""

import sys

from rnnlab.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
