"""rnnlab's layers against ``torch.nn`` in the same process: time ratios and GFLOP/s.

For each shape ``(batch, time, input, hidden)`` and each case, the baseline is the
``torch.nn`` layer doing the same work (with lengths: ``torch.nn`` on a ``PackedSequence``,
packing included, since that is what a torch user must write to get the same outputs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnlab
from rnnlab.bench.timing import time_interleaved

SHAPES: tuple[tuple[int, int, int, int], ...] = (
    (64, 100, 64, 128),
    (20, 35, 200, 200),
    (20, 35, 650, 650),
)
GATES = {"lstm": 4, "gru": 3, "peephole": 4, "cifg": 3, "layernorm": 4}


@dataclass(frozen=True)
class LayerBenchRow:
    """One comparison: ``ratio`` = rnnlab seconds / baseline seconds (lower is better)."""

    case: str
    shape: tuple[int, int, int, int]
    mode: str
    rnnlab_ms: float
    baseline_ms: float
    ratio: float
    rnnlab_gflops: float
    baseline_gflops: float


def recurrent_flops(shape: tuple[int, int, int, int], gates: int, backward: bool) -> float:
    """Matrix-multiply FLOPs of one layer, one direction: ``2·gates·H·(I+H)`` per token;
    a backward pass costs about twice the forward (gradients for inputs and weights)."""
    batch, time, inputs, hidden = shape
    forward = 2.0 * gates * hidden * (inputs + hidden) * batch * time
    return forward * (3.0 if backward else 1.0)


def _runner(layer: Callable, x: torch.Tensor, backward: bool) -> Callable[[], object]:
    def run():
        if backward:
            output = layer(x)
            output.sum().backward()
        else:
            with torch.no_grad():
                layer(x)
    return run


def _cases(shape, generator):
    """(name, gates, rnnlab callable, baseline callable) for one shape."""
    batch, time, inputs, hidden = shape
    lengths = torch.randint(time // 2, time + 1, (batch,), generator=generator)
    lengths[0] = time
    for kind in ("lstm", "gru"):
        torch_cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
        ours_cls = rnnlab.LSTM if kind == "lstm" else rnnlab.GRU
        baseline = torch_cls(inputs, hidden, batch_first=True)
        ours = ours_cls(inputs, hidden, batch_first=True)
        ours.load_state_dict(baseline.state_dict())

        def torch_packed(x, baseline=baseline):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            return pad_packed_sequence(baseline(packed)[0], batch_first=True)[0]

        yield kind, GATES[kind], (lambda x, o=ours: o(x).output), (lambda x, b=baseline: b(x)[0])
        yield (f"{kind}+lengths", GATES[kind],
               (lambda x, o=ours: o(x, lengths=lengths).output), torch_packed)
    baseline = torch.nn.LSTM(inputs, hidden, batch_first=True)
    # The dropout family's cost on the fused kernel, against no dropout at all (issue 9's bar:
    # ≤ 10 %). Layers are in training mode here, so the masks are drawn on every call.
    for label, dropout in (("weight_dropout", {"weight_dropout": 0.5}),
                           ("locked_dropout", {"input_dropout": 0.3, "output_dropout": 0.3})):
        ours = rnnlab.LSTM(inputs, hidden, batch_first=True, **dropout)
        yield (f"lstm+{label} (vs nn.LSTM)", GATES["lstm"], (lambda x, o=ours: o(x).output),
               (lambda x, b=baseline: b(x)[0]))
    for cell in ("peephole", "cifg", "layernorm"):
        ours = rnnlab.LSTM(inputs, hidden, batch_first=True, cell=cell)
        yield (f"{cell} (vs nn.LSTM)", GATES[cell], (lambda x, o=ours: o(x).output),
               (lambda x, b=baseline: b(x)[0]))


def bench_layers(
    shapes=SHAPES, *, repeats: int = 7, seed: int = 0, variants: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[LayerBenchRow]:
    """Measure every case at every shape, forward and forward+backward."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for shape in shapes:
        batch, time, inputs, _ = shape
        x = torch.randn(batch, time, inputs, requires_grad=True)
        for case, gates, ours, baseline in _cases(shape, generator):
            if not variants and case.split()[0] in ("peephole", "cifg", "layernorm"):
                continue
            for backward in (False, True):
                mode = "forward+backward" if backward else "forward"
                if progress:
                    progress(f"{case} {shape} {mode}")
                timings = time_interleaved(
                    {"rnnlab": _runner(ours, x, backward),
                     "baseline": _runner(baseline, x, backward)},
                    repeats=repeats,
                )
                flops = recurrent_flops(shape, gates, backward)
                ours_s, base_s = timings["rnnlab"].median, timings["baseline"].median
                rows.append(LayerBenchRow(case, shape, mode, 1e3 * ours_s, 1e3 * base_s,
                                          ours_s / base_s, flops / ours_s / 1e9,
                                          flops / base_s / 1e9))
    return rows


def rows_to_markdown(rows: list[LayerBenchRow]) -> str:
    """A Markdown table of the rows."""
    lines = [
        "| case | (batch, time, input, hidden) | mode | rnnlab ms | torch.nn ms | ratio "
        "| rnnlab GFLOP/s | torch.nn GFLOP/s |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.case} | {row.shape} | {row.mode} | {row.rnnlab_ms:.2f} | "
            f"{row.baseline_ms:.2f} | {row.ratio:.3f} | {row.rnnlab_gflops:.1f} | "
            f"{row.baseline_gflops:.1f} |"
        )
    return "\n".join(lines)
