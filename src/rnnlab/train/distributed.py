"""Training on several processes: torchrun's environment, the process group, data shards.

    torchrun --nproc-per-node 2 -m rnnlab train --batch-size 16 --out runs/ddp
    torchrun --nproc-per-node 2 -m rnnlab lm train --corpus brown --batch-size 10 --out runs/lm

torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR``/``MASTER_PORT``;
:func:`process_group` reads them and joins the group (gloo for CPU tensors; where CUDA is
present, ``cpu:gloo,cuda:nccl`` so CUDA tensors would go through nccl). Gradients are averaged
by ``torch.nn.parallel.DistributedDataParallel``; rank 0 alone reads and writes the run
directory and reports the metrics, which are summed over the ranks first. ``--batch-size`` is
per process (PyTorch's convention): N processes of batch B train like one of batch N·B.

How each rank's data is cut is in :mod:`rnnlab.train.shards`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from rnnlab.models.language_model import LanguageModel, LMStep

T = TypeVar("T")
# How long a rank waits for the others at a collective: long enough for rank 0 to write a
# checkpoint or evaluate, short enough that a lost peer ends the run instead of hanging it.
COLLECTIVE_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class World:
    """This process's place in the group; ``World()`` is a single process (no collectives)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def sum(self, *values: float) -> tuple[float, ...]:
        """Each value summed over the ranks (float64; every rank gets the same numbers)."""
        if self.size == 1:
            return tuple(float(value) for value in values)
        totals = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(totals)
        return tuple(float(total) for total in totals)

    def finite_or_nan(self, value: float) -> float:
        """``value`` if it is finite on every rank, else a non-finite one (this rank's own,
        or NaN): all ranks then stop on a divergence together, instead of the others waiting
        forever in the next gradient all-reduce."""
        if self.size == 1:
            return value
        finite = bool(np.isfinite(value))
        (bad_ranks,) = self.sum(0.0 if finite else 1.0)
        return value if bad_ranks == 0.0 or not finite else float("nan")

    def on_main(self, function: Callable[[], T]) -> T:
        """``function()`` run on rank 0 only; its result (or its error) reaches every rank.

        For what only rank 0 may do, such as taking the run directory's lock and reading the
        checkpoint: the other ranks raise the same error instead of waiting for rank 0.
        """
        if self.size == 1:
            return function()
        outcome: list[Any] = [None]
        error: BaseException | None = None
        if self.is_main:
            try:
                outcome = [("ok", function())]
            except Exception as raised:  # re-raised below, on every rank
                error = raised
                outcome = [("error", f"{raised}", isinstance(raised, ValueError))]
        dist.broadcast_object_list(outcome, src=0)
        if error is not None:
            raise error
        if outcome[0][0] == "error":
            _, message, is_value_error = outcome[0]
            raise (ValueError if is_value_error else RuntimeError)(f"on rank 0: {message}")
        return outcome[0][1]

    def gather(self, value: T) -> list[T]:
        """``value`` of every rank, in rank order (on every rank)."""
        if self.size == 1:
            return [value]
        values: list[Any] = [None] * self.size
        dist.all_gather_object(values, value)
        return values

    def rows(self, count: int) -> slice:
        """This rank's contiguous share of ``count`` rows (the first ranks get the extra)."""
        base, extra = divmod(count, self.size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))


SINGLE = World()


def world_from_env(environ: Mapping[str, str] = os.environ) -> World | None:
    """The world torchrun describes in ``environ``; None when not launched by torchrun."""
    if "WORLD_SIZE" not in environ:
        return None
    values = {}
    for name, default in (("RANK", None), ("WORLD_SIZE", None), ("LOCAL_RANK", "0")):
        text = environ.get(name, default)
        try:
            values[name] = int(text)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"{name}={text!r} in the environment is not an integer; launch "
                             "with torchrun, which sets RANK, WORLD_SIZE and LOCAL_RANK") from None
    rank, size = values["RANK"], values["WORLD_SIZE"]
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"RANK={rank} and WORLD_SIZE={size} in the environment: need "
                         "0 <= RANK < WORLD_SIZE; launch with torchrun")
    return World(rank, size, values["LOCAL_RANK"])


def current_world() -> World:
    """The group this process trains in (``SINGLE`` unless a process group is initialised)."""
    if not (dist.is_available() and dist.is_initialized()):
        return SINGLE
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    return World(dist.get_rank(), dist.get_world_size(), local_rank)


def backend() -> str:
    """gloo for CPU tensors; with CUDA, nccl for CUDA tensors beside it."""
    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"


@contextmanager
def process_group() -> Iterator[World]:
    """Join torchrun's process group for the block (a no-op outside torchrun or for one
    process); ranks other than 0 print nothing on stdout, so the output is rank 0's."""
    world = world_from_env()
    if world is None or world.size == 1 or current_world().size > 1:
        yield current_world()
        return
    dist.init_process_group(backend(), rank=world.rank, world_size=world.size,
                            timeout=COLLECTIVE_TIMEOUT)
    try:
        if world.is_main:
            yield world
        else:
            with open(os.devnull, "w") as quiet, redirect_stdout(quiet):
                yield world
    finally:
        dist.destroy_process_group()


def replicate(module: nn.Module, world: World) -> nn.Module:
    """``module`` wrapped in DistributedDataParallel (gradients averaged over the ranks), or
    ``module`` itself for one process."""
    if world.size == 1:
        return module
    return nn.parallel.DistributedDataParallel(module)


def unwrap(module: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (``module`` itself when not wrapped)."""
    return getattr(module, "module", module)


class _RunStep(nn.Module):
    """What DDP wraps for a language model: ``LanguageModel.run`` as a forward pass."""

    def __init__(self, model: LanguageModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        step = self.model.run(ids, state)
        return step.logits, step.state


class ReplicatedLM:
    """A language model's training interface (``train``, ``init_state``, ``run``,
    ``parameters``) with every step run through DDP, so gradients are averaged."""

    def __init__(self, model: LanguageModel, world: World) -> None:
        self.model = model
        self.replica = replicate(_RunStep(model), world)

    def train(self, mode: bool = True) -> ReplicatedLM:
        self.model.train(mode)
        return self

    def init_state(self, batch: int) -> Any:
        return self.model.init_state(batch)

    def run(self, ids: torch.Tensor, state: Any = None) -> LMStep:
        logits, state = self.replica(ids, state)
        return LMStep(logits, state)

    def parameters(self) -> Iterator[nn.Parameter]:
        return self.model.parameters()
