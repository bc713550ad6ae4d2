import torch, os, sys
torch.set_num_threads(1)
from rnnlab.bench.layers import bench_layers, rows_to_markdown, sgemm_gflops
from rnnlab.core import kernels
s1 = sgemm_gflops(clock="cpu")
rows = bench_layers(((32, 100, 64, 128), (20, 35, 650, 650)), repeats=5, clock="cpu")
s2 = sgemm_gflops(clock="cpu")
print(f"cpu clock, load {os.getloadavg()}, 1 thread, sgemm {max(s1,s2):.0f} GFLOP/s per CPU second; {kernels.status()}\n")
print(rows_to_markdown(rows, max(s1, s2)))
