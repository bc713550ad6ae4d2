"""One LSTM training step (batch 32, time 100, input 64, hidden 128) timed for 4 s, at the
thread count given, under whatever OMP_WAIT_POLICY the environment sets: run it on a busy
machine to see what spinning OpenMP threads cost.

    python benchmarks/wait_policy_step.py 2                          # libgomp's default
    OMP_WAIT_POLICY=PASSIVE python benchmarks/wait_policy_step.py 2  # what rnnlab's CLI sets
"""

import os
import sys
import time

import torch

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
x = torch.randn(32, 100, 64)
model = torch.nn.LSTM(64, 128, batch_first=True)


def step() -> None:
    model(x)[0].sum().backward()


for _ in range(3):
    step()
started, steps = time.perf_counter(), 0
while time.perf_counter() - started < 4:
    step()
    steps += 1
print(f"threads {torch.get_num_threads()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}"
      f": {(time.perf_counter() - started) / steps * 1e3:.1f} ms per step")
