"""Time one rnnlab checkout's layers against torch.nn, to A/B two versions of rnnlab.

    git archive <old-commit> src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src python benchmarks/ab_versions.py     # the old version
    python benchmarks/ab_versions.py                             # this checkout

Prints which rnnlab it imported, the median milliseconds of an LSTM forward (no grad) with
lengths, torch's packed equivalent and the full-length call, and the one-thread sgemm rate of
the machine in the same minute (compare versions by their ratios to it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnlab

SHAPES = ((64, 100, 64, 128), (20, 35, 650, 650))  # (batch, time, input, hidden)


def median_ms(run: Callable[[], object], repeats: int = 9) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * sorted(times)[repeats // 2]


@torch.no_grad()
def layer_times(shape: tuple[int, int, int, int]) -> dict[str, float]:
    batch, steps, inputs, hidden = shape
    x = torch.randn(batch, steps, inputs)
    lengths = torch.randint(steps // 2, steps + 1, (batch,))
    lengths[0] = steps
    ours = rnnlab.LSTM(inputs, hidden, batch_first=True)
    reference = torch.nn.LSTM(inputs, hidden, batch_first=True)

    def torch_packed() -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(reference(packed)[0], batch_first=True)[0]

    return {
        "rnnlab+lengths": median_ms(lambda: ours(x, lengths=lengths)),
        "torch packed": median_ms(torch_packed),
        "rnnlab full": median_ms(lambda: ours(x)),
    }


def sgemm_gflops(size: int = 2048) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / (median_ms(lambda: torch.mm(a, b), repeats=5) / 1e3) / 1e9


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"rnnlab from {rnnlab.__file__}")
    for shape in SHAPES:
        timings = ", ".join(f"{name} {ms:.2f} ms" for name, ms in layer_times(shape).items())
        print(f"{shape}: {timings}")
    print(f"sgemm, one thread: {sgemm_gflops():.1f} GF/s")


if __name__ == "__main__":
    main()
