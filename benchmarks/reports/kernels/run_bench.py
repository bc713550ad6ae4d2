"""The CPU-clock layer benchmark of RESULTS §1 (issue 10): two shapes, 1 thread, 5 repeats.

    python benchmarks/reports/kernels/run_bench.py > bench.md
"""

import os

import torch

from rnnlab.bench.layers import bench_layers, rows_to_markdown, sgemm_gflops
from rnnlab.core import kernels

torch.set_num_threads(1)
before = sgemm_gflops(clock="cpu")
rows = bench_layers(((32, 100, 64, 128), (20, 35, 650, 650)), repeats=5, clock="cpu")
sgemm = max(before, sgemm_gflops(clock="cpu"))
print(f"cpu clock, load {os.getloadavg()}, 1 thread, sgemm {sgemm:.0f} GFLOP/s per CPU "
      f"second; {kernels.status()}\n")
print(rows_to_markdown(rows, sgemm))
