"""Speed comparisons against baselines measured in the same run (``rnnlab bench``).

    >>> from rnnlab.bench import SHAPES, bench_layers, rows_to_markdown
    >>> print(rows_to_markdown(bench_layers(SHAPES[:1], repeats=3)))
"""

from rnnlab.bench.layers import (
    SHAPES,
    LayerBenchRow,
    bench_layers,
    recurrent_flops,
    rows_to_markdown,
    sgemm_gflops,
)
from rnnlab.bench.timing import Timing, time_interleaved

__all__ = [
    "SHAPES",
    "LayerBenchRow",
    "Timing",
    "bench_layers",
    "recurrent_flops",
    "rows_to_markdown",
    "sgemm_gflops",
    "time_interleaved",
]
