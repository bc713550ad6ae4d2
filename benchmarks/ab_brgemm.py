"""The kernels' per-step products by oneDNN's brgemm micro-kernel against ``at::mm``, in one
process: ``RNNLAB_BRGEMM=0`` (read on every call) chooses ``at::mm``, so the two paths run
interleaved on the same layer, input and weights.

    python benchmarks/ab_brgemm.py                          # seed 002's size (32, 100, 64, 128)
    python benchmarks/ab_brgemm.py --shape 20,35,650,650    # the medium LM's size

Forward+backward, each contender's own CPU seconds (the median of 9 interleaved repeats),
1 thread, nn.LSTM (oneDNN) timed beside them as the common baseline.
"""

from __future__ import annotations

import os

import torch

import rnnlab
from rnnlab.bench.timing import ab_arguments, cpu_ms

CELLS = ("gru", "peephole", "cifg", "layernorm")


def main() -> None:
    (batch, time_steps, inputs, hidden), repeats, shape = ab_arguments(
        __doc__.splitlines()[0])
    torch.set_num_threads(1)
    x = torch.randn(batch, time_steps, inputs)
    baseline = torch.nn.LSTM(inputs, hidden, batch_first=True)

    def train_baseline() -> None:
        baseline(x)[0].sum().backward()

    for cell in CELLS:
        layer = (rnnlab.GRU(inputs, hidden, batch_first=True) if cell == "gru"
                 else rnnlab.LSTM(inputs, hidden, batch_first=True, cell=cell))

        def train(layer: rnnlab.Recurrent = layer) -> None:
            layer(x).output.sum().backward()

        times: dict[str, list[float]] = {"brgemm": [], "at::mm": [], "nn.LSTM": []}
        for _ in range(2):  # warm-up: builds oneDNN's micro-kernels for these shapes
            train()
            train_baseline()
        for _ in range(repeats):
            for name, setting in (("brgemm", "1"), ("at::mm", "0")):
                os.environ["RNNLAB_BRGEMM"] = setting
                times[name].append(cpu_ms(train))
            times["nn.LSTM"].append(cpu_ms(train_baseline))
        os.environ.pop("RNNLAB_BRGEMM")
        median = {name: sorted(values)[len(values) // 2] for name, values in times.items()}
        print(f"{cell:10s} {shape}: brgemm {median['brgemm']:6.1f} ms, at::mm "
              f"{median['at::mm']:6.1f} ms, nn.LSTM {median['nn.LSTM']:6.1f} ms | "
              f"brgemm / at::mm {median['brgemm'] / median['at::mm']:.3f}, "
              f"vs nn.LSTM {median['brgemm'] / median['nn.LSTM']:.3f} (at::mm: "
              f"{median['at::mm'] / median['nn.LSTM']:.3f})", flush=True)


if __name__ == "__main__":
    main()
