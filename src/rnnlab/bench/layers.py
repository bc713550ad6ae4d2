"""rnnlab's layers against ``torch.nn`` in the same process: time ratios, GFLOP/s, % of sgemm.

For each shape ``(batch, time, input, hidden)`` and each case, the baseline is the
``torch.nn`` layer doing the same work (with lengths: ``torch.nn`` on a ``PackedSequence``,
packing included, since that is what a torch user must write to get the same outputs), or,
for GRU and the LSTM variants, ``torch.nn.LSTM`` (the bar: a variant within 15 % of a fused
LSTM, GRU no slower). :func:`sgemm_gflops` measures the machine's matrix-multiply rate in the
same process, so every GFLOP/s can be read as a share of what this CPU can do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnlab
from rnnlab.bench.timing import CLOCKS, time_interleaved

SHAPES: tuple[tuple[int, int, int, int], ...] = (
    (32, 100, 64, 128),   # seed 002's study
    (64, 100, 64, 128),
    (20, 35, 650, 650),   # Zaremba et al.'s medium language model
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


def sgemm_gflops(size: int = 1024, seconds: float = 0.3, clock: str = "wall") -> float:
    """This process's float32 matrix-multiply rate (GFLOP/s) at the current thread count,
    per second of ``clock`` ("wall", or "cpu": per CPU second of one thread's work)."""
    now = CLOCKS[clock]
    a, b = torch.randn(size, size), torch.randn(size, size)
    out = torch.empty(size, size)
    torch.mm(a, b, out=out)
    calls, start = 0, now()
    while now() - start < seconds:
        torch.mm(a, b, out=out)
        calls += 1
    return 2.0 * size**3 * calls / (now() - start) / 1e9


class StepCell(rnnlab.RecurrentCell):
    """A user cell that writes its whole step (a minimal LSTM by hand): the time loop runs it,
    with autograd's graph at every step."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.input_map = torch.nn.Linear(input_size, 4 * hidden_size, bias=bias)
        self.weight_hh = torch.nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.reset_parameters()

    @property
    def state_sizes(self) -> tuple[int, int]:
        return (self.hidden_size, self.hidden_size)

    def precompute(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.input_map(inputs)

    def step(self, projected_t, state):
        h, c = state
        i, f, g, o = (projected_t + self.recurrent_input(h) @ self.weight_hh.T).chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)

    def forward(self, x_t, state):
        return self.step(self.precompute(x_t), state)


class SplitCell(StepCell):
    """The same cell with the ``precompute``/``update`` split: the layer does the recurrent
    product and the backward pass around its elementwise ``update``
    (rnnlab.core.split_step)."""

    step = rnnlab.RecurrentCell.step
    forward = rnnlab.RecurrentCell.forward

    def update(self, gates, state):
        i, f, g, o = gates.chunk(4, -1)
        c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class SplitGRUCell(rnnlab.RecurrentCell):
    """A user GRU (torch.nn.GRU's equations) that takes the recurrent product apart
    (``update_takes_parts``): its reset gate scales only the recurrent candidate rows."""

    update_takes_parts = True

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.input_map = torch.nn.Linear(input_size, 3 * hidden_size, bias=bias)
        self.weight_hh = torch.nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_hh = torch.nn.Parameter(torch.empty(3 * hidden_size)) if bias else None
        self.reset_parameters()

    def precompute(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.input_map(inputs)

    def update(self, x_t, hh_t, state):
        x_r, x_z, x_n = x_t.chunk(3, -1)
        h_r, h_z, h_n = hh_t.chunk(3, -1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        h = (1 - z) * torch.tanh(x_n + r * h_n) + z * state[0]
        return h, (h,)


class EagerSplitCell(SplitCell):
    """The split cell with its ``update`` called eagerly at every step and autograd's VJP
    in the backward pass, instead of the traced programs (rnnlab.core.update_programs)."""

    trace_update = False


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

    def lstm_packed(x, baseline=baseline):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(baseline(packed)[0], batch_first=True)[0]

    # The dropout family's cost on the fused kernels, against no dropout at all (issue 9's
    # bar: ≤ 10 %). Layers are in training mode here, so the masks are drawn on every call.
    for label, dropout in (("weight_dropout", {"weight_dropout": 0.5}),
                           ("locked_dropout", {"input_dropout": 0.3, "output_dropout": 0.3}),
                           ("recurrent_dropout", {"recurrent_dropout": 0.3})):
        ours = rnnlab.LSTM(inputs, hidden, batch_first=True, **dropout)
        yield (f"lstm+{label} (vs nn.LSTM)", GATES["lstm"], (lambda x, o=ours: o(x).output),
               (lambda x, b=baseline: b(x)[0]))
    # GRU and the variants against the fused LSTM (bar: GRU no slower, variants ≤ 1.15×).
    user_cells = {"user (update split)": SplitCell,
                  "user (update split, eager update)": EagerSplitCell,
                  "user (own step)": StepCell, "user GRU (update parts)": SplitGRUCell}
    for cell in ("gru", "peephole", "cifg", "layernorm", *user_cells):
        if cell == "gru":
            ours = rnnlab.GRU(inputs, hidden, batch_first=True)
        else:
            ours = rnnlab.LSTM(inputs, hidden, batch_first=True,
                               cell=user_cells.get(cell, cell))
        gates = 3 if cell.startswith("user GRU") else GATES.get(cell, 4)
        yield (f"{cell} (vs nn.LSTM)", gates, (lambda x, o=ours: o(x).output),
               (lambda x, b=baseline: b(x)[0]))
        yield (f"{cell}+lengths (vs nn.LSTM)", gates,
               (lambda x, o=ours: o(x, lengths=lengths).output), lstm_packed)


VARIANTS = ("gru (", "gru+lengths (", "peephole", "cifg", "layernorm", "user")


def bench_layers(
    shapes=SHAPES, *, repeats: int = 7, seed: int = 0, variants: bool = True,
    progress: Callable[[str], None] | None = None, clock: str = "wall",
    cases: Sequence[str] = (),
) -> list[LayerBenchRow]:
    """Measure every case at every shape, forward and forward+backward; with ``cases``
    (prefixes of case names, e.g. ``("user",)``) only the cases that start with one."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for shape in shapes:
        batch, time, inputs, _ = shape
        x = torch.randn(batch, time, inputs, requires_grad=True)
        for case, gates, ours, baseline in _cases(shape, generator):
            if not variants and case.startswith(VARIANTS):
                continue
            if cases and not case.startswith(tuple(cases)):
                continue
            for backward in (False, True):
                mode = "forward+backward" if backward else "forward"
                if progress:
                    progress(f"{case} {shape} {mode}")
                timings = time_interleaved(
                    {"rnnlab": _runner(ours, x, backward),
                     "baseline": _runner(baseline, x, backward)},
                    repeats=repeats, clock=clock,
                )
                flops = recurrent_flops(shape, gates, backward)
                ours_s, base_s = timings["rnnlab"].median, timings["baseline"].median
                rows.append(LayerBenchRow(case, shape, mode, 1e3 * ours_s, 1e3 * base_s,
                                          ours_s / base_s, flops / ours_s / 1e9,
                                          flops / base_s / 1e9))
    return rows


def rows_to_markdown(rows: list[LayerBenchRow], sgemm: float | None = None) -> str:
    """A Markdown table of the rows; with ``sgemm`` (GFLOP/s) also each rate's share of it."""
    share = sgemm is not None and sgemm > 0
    lines = [
        "| case | (batch, time, input, hidden) | mode | rnnlab ms | torch.nn ms | ratio "
        "| rnnlab GFLOP/s | torch.nn GFLOP/s |" + (" rnnlab % sgemm | torch.nn % sgemm |"
                                                   if share else ""),
        "|---|---|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if share else ""),
    ]
    for row in rows:
        line = (f"| {row.case} | {row.shape} | {row.mode} | {row.rnnlab_ms:.2f} | "
                f"{row.baseline_ms:.2f} | {row.ratio:.3f} | {row.rnnlab_gflops:.1f} | "
                f"{row.baseline_gflops:.1f} |")
        if share:
            line += (f" {100 * row.rnnlab_gflops / sgemm:.0f} % |"
                     f" {100 * row.baseline_gflops / sgemm:.0f} % |")
        lines.append(line)
    return "\n".join(lines)
