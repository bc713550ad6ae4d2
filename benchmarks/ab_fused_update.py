"""A user cell's update as a fused C++ loop against the TorchScript programs and the eager
update, in one process: the same cell class, weights and input, its three layers traced
under ``RNNLAB_FUSED_UPDATE`` on and off (or with ``trace_update = False``), interleaved
with ``nn.LSTM`` (and ``nn.GRU`` for the user GRU) as the common baseline.

    python benchmarks/ab_fused_update.py                          # seed 002's size
    python benchmarks/ab_fused_update.py --shape 20,35,650,650    # the medium LM's size

Forward+backward (training) and forward under no_grad, each contender's own CPU seconds
(the median of 9 interleaved repeats), 1 thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

import rnnlab
from rnnlab.bench.layers import SplitCell, SplitGRUCell
from rnnlab.bench.timing import ab_arguments, cpu_ms


def _layer(cell: type, inputs: int, hidden: int, x: torch.Tensor, how: str,
           reference: rnnlab.Recurrent | None) -> rnnlab.Recurrent:
    """A layer of ``cell`` whose update runs ``how``: fused, programs or eager; traced now."""
    layer = rnnlab.LSTM(inputs, hidden, batch_first=True, cell=cell)
    if reference is not None:
        layer.load_state_dict(reference.state_dict())
    if how == "eager":
        layer.cells[0].trace_update = False
    os.environ["RNNLAB_FUSED_UPDATE"] = "0" if how == "programs" else "1"
    layer(x).output.sum().backward()  # traces (and compiles) under this setting
    os.environ.pop("RNNLAB_FUSED_UPDATE")
    return layer


def main() -> None:
    (batch, time_steps, inputs, hidden), repeats, shape = ab_arguments(
        __doc__.splitlines()[0])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(batch, time_steps, inputs)
    baselines = {"nn.LSTM": torch.nn.LSTM(inputs, hidden, batch_first=True),
                 "nn.GRU": torch.nn.GRU(inputs, hidden, batch_first=True)}
    for cell, baseline_name in ((SplitCell, "nn.LSTM"), (SplitGRUCell, "nn.GRU")):
        first = _layer(cell, inputs, hidden, x, "fused", None)
        layers = {"fused": first,
                  "programs": _layer(cell, inputs, hidden, x, "programs", first),
                  "eager": _layer(cell, inputs, hidden, x, "eager", first)}
        contenders: dict[str, Callable[[], object]] = {
            name: (lambda layer=layer: layer(x).output) for name, layer in layers.items()}
        contenders.update({name: (lambda module=module: module(x)[0])
                           for name, module in baselines.items()})
        for mode in ("forward+backward", "forward"):
            times: dict[str, list[float]] = {name: [] for name in contenders}

            def run(forward: Callable[[], torch.Tensor], mode: str = mode) -> None:
                if mode == "forward":
                    with torch.no_grad():
                        forward()
                else:
                    forward().sum().backward()

            for _ in range(2):
                for forward in contenders.values():
                    run(forward)
            for _ in range(repeats):
                for name, forward in contenders.items():
                    times[name].append(cpu_ms(lambda forward=forward: run(forward)))
            median = {name: sorted(values)[len(values) // 2] for name, values in times.items()}
            base = median[baseline_name]
            text = ", ".join(f"{name} {value:6.1f} ms ({value / median['nn.LSTM']:.2f}× "
                             f"nn.LSTM)" for name, value in median.items())
            print(f"{cell.__name__:12s} {shape} {mode:16s}: {text} | fused / "
                  f"{baseline_name} {median['fused'] / base:.3f}, fused / programs "
                  f"{median['fused'] / median['programs']:.3f}", flush=True)


if __name__ == "__main__":
    main()
