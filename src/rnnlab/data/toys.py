"""Toy sequence tasks whose answer is known: the adding problem and copy memory.

Both are generated from a seed, exactly (NumPy's PCG64 via ``np.random.default_rng``), so
every model of a study sees the same numbers, and each has a baseline computed in closed
form: what the best model that remembers nothing scores.

The adding problem (Hochreiter & Schmidhuber 1997, experiment 4; the variant of Le, Jaitly &
Hinton 2015): T steps of two features, a value ~ U(0, 1) and a marker; exactly two markers
are 1, one in each half of the sequence; the target is the sum of the two marked values::

    t        0     1     2    ...  T/2   ...   T-1
    value   .31   .85   .07   ...  .52   ...   .66
    marker   0     1     0    ...   0    ...    1        target = .85 + .66 = 1.51

The target is the sum of two U(0, 1), so its mean is 1 and its variance 2 · 1/12: always
predicting 1 (the best constant) has MSE exactly 1/6 ≈ 0.167.

Copy memory (Arjovsky, Shah & Bengio 2016, section 4.1): symbols 1-8 are data, 0 is the
blank, 9 the delimiter. Ten data symbols, T − 1 blanks, the delimiter, ten blanks (T + 20
steps); the target is T + 10 blanks, then the ten data symbols again::

    input    a b c ... j  0 0 ... 0  9  0 0 ... 0       (10 + (T-1) + 1 + 10 = T + 20)
    target   0 0 0 ... 0  0 0 ... 0  0  a b ... j       (T + 10 blanks, then the 10 symbols)

A model that remembers nothing predicts blank with certainty for the first T + 10 steps and
each of the 8 symbols with probability 1/8 for the last 10: cross-entropy per step
10 · ln 8 / (T + 20).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rnnlab._config import check_known_keys, is_int

__all__ = [
    "ADDING_MIN_T",
    "COPY_ALPHABET",
    "COPY_BLANK",
    "COPY_DELIMITER",
    "COPY_MIN_T",
    "COPY_SYMBOLS",
    "TOY_TASKS",
    "AddingBatch",
    "CopyBatch",
    "ToyTaskConfig",
    "adding_baseline_mse",
    "adding_batch",
    "check_adding_t",
    "check_copy_t",
    "copy_baseline_cross_entropy",
    "copy_batch",
    "task_rng",
]

ADDING_MIN_T = 2  # one marker in each half needs two steps
ADDING_MAX_T = 100_000
COPY_MIN_T = 1  # T - 1 blanks between the symbols and the delimiter: none at T = 1
COPY_MAX_T = 100_000
COPY_SYMBOLS = 10  # Arjovsky et al.: ten symbols to remember
COPY_BLANK, COPY_DELIMITER = 0, 9
COPY_DATA_SYMBOLS = 8  # 1 ... 8
COPY_ALPHABET = 10  # blank, 8 data symbols, delimiter
MAX_BATCH = 1_000_000
MAX_EVAL_EXAMPLES = 100_000
TOY_TASKS = ("adding", "copy", "quotes")


@dataclass(frozen=True)
class AddingBatch:
    """inputs ``(batch, T, 2)`` float32 (value, marker); targets ``(batch,)`` float32."""

    inputs: np.ndarray
    targets: np.ndarray


@dataclass(frozen=True)
class CopyBatch:
    """inputs and targets ``(batch, T + 20)`` int64 over the alphabet 0 (blank), 1-8, 9."""

    inputs: np.ndarray
    targets: np.ndarray


def task_rng(seed: int, *stream: int) -> np.random.Generator:
    """The generator for ``seed`` and a stream key (e.g. the training step): batch s of a run
    is drawn from ``task_rng(seed, s)`` alone, so resuming at step s needs no saved RNG."""
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return np.random.default_rng([seed, *stream])


def _check(name: str, value: object, low: int, high: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not (
            low <= value <= high):
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}; {fix}")
    return int(value)


def check_adding_t(length: int) -> int:
    """``length`` (T) for the adding problem: at least 2 (one marker in each half)."""
    return _check("T", length, ADDING_MIN_T, ADDING_MAX_T,
                  "the adding problem puts one marker in each half of the sequence, so it "
                  f"needs T >= {ADDING_MIN_T} (the usual lengths are 50, 100, 200, 400)")


def check_copy_t(length: int) -> int:
    """``length`` (T) for copy memory: the number of blanks before the recall is T − 1 >= 0."""
    return _check("T", length, COPY_MIN_T, COPY_MAX_T,
                  f"copy memory waits T - 1 blanks before the delimiter, so it needs "
                  f"T >= {COPY_MIN_T} (Arjovsky et al. use 100, 200, 300, 500)")


def adding_batch(rng: np.random.Generator, batch: int, length: int) -> AddingBatch:
    """``batch`` adding-problem sequences of ``length`` T (see the module docstring)."""
    batch = _check("batch", batch, 1, MAX_BATCH, "give a positive batch size")
    T = check_adding_t(length)
    values = rng.random((batch, T))
    half = T // 2
    # One marker uniformly in [0, T/2), the other in [T/2, T) (Le et al. 2015).
    first = rng.integers(0, half, size=batch)
    second = rng.integers(half, T, size=batch)
    markers = np.zeros((batch, T))
    rows = np.arange(batch)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    inputs = np.stack([values, markers], axis=-1).astype(np.float32)
    return AddingBatch(inputs, targets.astype(np.float32))


def adding_baseline_mse() -> float:
    """MSE of always predicting 1, the best constant: Var(U1 + U2) = 2/12 = 1/6."""
    return 2.0 / 12.0


def copy_batch(rng: np.random.Generator, batch: int, length: int) -> CopyBatch:
    """``batch`` copy-memory sequences with T = ``length`` (module docstring): T + 20 steps."""
    batch = _check("batch", batch, 1, MAX_BATCH, "give a positive batch size")
    T = check_copy_t(length)
    symbols = rng.integers(1, COPY_DATA_SYMBOLS + 1, size=(batch, COPY_SYMBOLS))
    length = T + 2 * COPY_SYMBOLS
    inputs = np.full((batch, length), COPY_BLANK, dtype=np.int64)
    inputs[:, :COPY_SYMBOLS] = symbols
    inputs[:, COPY_SYMBOLS + T - 1] = COPY_DELIMITER
    targets = np.full((batch, length), COPY_BLANK, dtype=np.int64)
    targets[:, -COPY_SYMBOLS:] = symbols
    return CopyBatch(inputs, targets)


def copy_baseline_cross_entropy(length: int) -> float:
    """Per-step cross-entropy (nats) of the memoryless best guess: 10 · ln 8 / (T + 20),
    T = ``length``."""
    T = check_copy_t(length)
    return COPY_SYMBOLS * math.log(COPY_DATA_SYMBOLS) / (T + 2 * COPY_SYMBOLS)


@dataclass(frozen=True)
class ToyTaskConfig:
    """One toy task at one length; the defaults are the bundled default profile's."""

    task: str  # "adding", "copy" or "quotes"
    T: int | None = None  # sequence length (adding, copy); None for quotes
    eval_examples: int = 1000  # sequences in each of valid and test (adding, copy)
    source: str = "brown"  # quotes: "brown" or a text file with quotations
    window: int = 100  # quotes: characters per training window (truncated BPTT length)
    max_train_chars: int | None = None  # quotes: keep only this much training text
    eval_chars: int = 100_000  # quotes: held-out characters scored (valid and test each)
    # quotes: read the training text as contiguous streams and carry the state from window
    # to window (truncated BPTT, as char-rnn); False: random windows from a zero state. A
    # quotation outlives a window, so only a carried state can learn to track one.
    carry_state: bool = True

    def __post_init__(self) -> None:
        if self.task not in TOY_TASKS:
            raise ValueError(f"task must be one of {list(TOY_TASKS)}, got {self.task!r}")
        if self.task == "adding":
            check_adding_t(self.T)
        elif self.task == "copy":
            check_copy_t(self.T)
        elif self.T is not None:
            raise ValueError(f"T is for adding and copy; quotes reads text windows of "
                             f"`window` characters, got T={self.T!r}")
        if not isinstance(self.carry_state, bool):
            raise ValueError(f"carry_state must be true or false, got {self.carry_state!r}")
        if self.task != "quotes" and not self.carry_state:
            raise ValueError(f"carry_state is for quotes (a text read as streams); {self.task} "
                             "draws independent sequences: drop it")
        for name, low, high in (("eval_examples", 2, MAX_EVAL_EXAMPLES), ("window", 2, 100_000),
                                ("eval_chars", 100, 100_000_000)):
            value = getattr(self, name)
            if not is_int(value) or not low <= value <= high:
                raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")

    @property
    def condition(self) -> str:
        """The task's name in the result store: ``adding-T200``, ``copy-T100``, ``quotes``."""
        return self.task if self.T is None else f"{self.task}-T{self.T}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.task != "quotes":  # adding and copy configs stay as they were written
            del data["carry_state"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyTaskConfig:
        check_known_keys(dict(data), cls, "toy task key")
        return cls(**data)
