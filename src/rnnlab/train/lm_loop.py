"""Training a language model with truncated BPTT: epochs, lr schedule, clipping, evaluation.

One epoch walks the windows of :class:`~rnnlab.data.tbptt.TBPTTBatches` in order, carrying
the LSTM state from window to window and detaching it (gradients flow back at most ``bptt``
steps). The loss is Zaremba et al.'s: token NLL summed over the window's steps and averaged
over the batch (``mean NLL × time``), the scale their learning rate of 1 and clip norms of
5/10 were tuned for (pytorch/examples averages over time too and so needs lr 20). Perplexity
is ``exp(mean token NLL)`` over every predicted token of a split.

A run directory holds ``checkpoint.pt`` (rewritten atomically after every epoch: weights,
optimizer, configs, vocabulary, history, RNG state) and ``history.json``; see
:mod:`rnnlab.train.lm_run` for resuming and :func:`rnnlab.train.load_run` for evaluating.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch
from tqdm.auto import tqdm

from rnnlab.data.tbptt import TBPTTBatches, detach_state
from rnnlab.models.language_model import LanguageModel, perplexity, token_nll
from rnnlab.models.lm_presets import LMPreset
from rnnlab.train.distributed import SINGLE, ReplicatedLM, World
from rnnlab.train.divergence import check_finite
from rnnlab.train.metrics import EpochMetrics
from rnnlab.train.progress import progress_enabled


@dataclass(frozen=True)
class LMTrainConfig:
    """How a language model is trained; the defaults are Zaremba et al.'s small model."""

    batch_size: int = 20  # parallel streams (Zaremba: 20)
    bptt: int = 20  # steps per window (small 20, medium/large 35)
    learning_rate: float = 1.0  # plain SGD
    lr_decay: float = 0.5  # lr *= lr_decay every epoch after decay_after
    decay_after: int = 4  # epochs at the initial learning rate
    max_grad_norm: float = 5.0  # global gradient-norm clip
    epochs: int = 13  # total epochs
    eval_batch_size: int = 10  # streams when evaluating (pytorch/examples: 10)
    seed: int = 0  # initial weights and dropout masks
    # valid tokens scored after each epoch (the lr schedule's signal); None = all of them.
    # On a huge corpus the full valid pass can cost as much as training; the final valid
    # and test scores always use the whole splits.
    max_eval_tokens: int | None = None

    def __post_init__(self) -> None:
        for name in ("batch_size", "bptt", "epochs", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_eval_tokens is not None and (
                isinstance(self.max_eval_tokens, bool) or not isinstance(self.max_eval_tokens, int)
                or self.max_eval_tokens < 2 * self.eval_batch_size):
            raise ValueError(
                f"max_eval_tokens (--max-eval-tokens) must be an int >= 2 × eval_batch_size "
                f"= {2 * self.eval_batch_size} (each stream needs an input and a target), got "
                f"{self.max_eval_tokens!r}")
        if self.learning_rate <= 0 or self.max_grad_norm <= 0:
            raise ValueError(
                f"learning_rate and max_grad_norm must be > 0, got {self.learning_rate} "
                f"and {self.max_grad_norm}"
            )

    @classmethod
    def from_preset(cls, preset: LMPreset, **overrides: object) -> LMTrainConfig:
        """The training half of a preset (see :mod:`rnnlab.models.lm_presets`)."""
        fields = {
            "batch_size": preset.batch_size,
            "bptt": preset.bptt,
            "learning_rate": preset.learning_rate,
            "lr_decay": preset.lr_decay,
            "decay_after": preset.decay_after,
            "max_grad_norm": preset.max_grad_norm,
            "epochs": preset.epochs,
        }
        return replace(cls(), **{**fields, **overrides})  # type: ignore[arg-type]

    def learning_rate_at(self, epoch: int) -> float:
        """``learning_rate * lr_decay ** max(epoch - decay_after, 0)``, ``epoch`` from 1."""
        return self.learning_rate * self.lr_decay ** max(epoch - self.decay_after, 0)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class SplitScore:
    """Summed NLL (nats) over ``tokens`` predicted tokens; ``perplexity`` = exp(mean)."""

    total_nll: float
    tokens: int

    @property
    def mean_nll(self) -> float:
        return self.total_nll / self.tokens

    @property
    def perplexity(self) -> float:
        return perplexity(self.total_nll, self.tokens)


def lm_advice(learning_rate: float, max_grad_norm: float) -> str:
    """What to change when a language model diverges (see :func:`check_finite`)."""
    return (f"with learning rate {learning_rate:g} and the gradient norm clipped to "
            f"{max_grad_norm:g}, lower the learning rate (--lr)")


WindowHook = Callable[[int, tuple, tuple], None]


def train_epoch(
    model: LanguageModel,
    batches: TBPTTBatches,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float,
    *,
    progress: bool = False,
    description: str = "train",
    on_window: WindowHook | None = None,
    world: World = SINGLE,
) -> SplitScore:
    """One pass over ``batches`` in order, the state carried and detached between windows.

    In a process group ``model`` is a :class:`~rnnlab.train.distributed.ReplicatedLM`,
    ``batches`` this rank's slice of the stream, and the score is summed over the ranks.

    ``on_window(index, initial_state, final_state)`` is called after each window (tests use
    it to see the state hand-over). Returns the training NLL (with dropout active). A NaN or
    infinite window loss raises :class:`~rnnlab.train.divergence.TrainingDivergedError` before
    that window updates the weights.
    """
    model.train()
    state = model.init_state(batches.batch)
    total, tokens = 0.0, 0
    bar = tqdm(batches, desc=description, disable=not progress_enabled(progress), leave=False,
               unit="win")
    for index, (inputs, targets) in enumerate(bar):
        initial = state
        step = model.run(inputs, initial)
        mean_nll = token_nll(step.logits, targets)
        window_nll = world.finite_or_nan(float(mean_nll.detach()))
        if not math.isfinite(window_nll):
            bar.close()
            check_finite(window_nll, f"the training loss of window {index + 1} of "
                         f"{len(batches)} ({description})",
                         advice=lm_advice(optimizer.param_groups[0]["lr"], max_grad_norm))
        optimizer.zero_grad(set_to_none=True)
        # Zaremba's scale: summed over the window's steps, averaged over the batch.
        (mean_nll * targets.shape[1]).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        state = detach_state(step.state)
        if on_window is not None:
            on_window(index, initial, state)
        total += window_nll * targets.numel()
        tokens += targets.numel()
        if index % 20 == 0:
            bar.set_postfix(ppl=f"{math.exp(min(total / tokens, 50.0)):.1f}")
    total, all_tokens = world.sum(total, tokens)
    return SplitScore(total, int(all_tokens))


@torch.no_grad()
def evaluate(
    model: LanguageModel, ids: torch.Tensor, batch_size: int, bptt: int, *,
    progress: bool = False, world: World = SINGLE, description: str = "eval",
) -> SplitScore:
    """Summed NLL of a 1-D id stream: ``batch_size`` streams, state carried, no dropout.

    ``progress`` shows a bar (on a terminal only, see :func:`progress_enabled`).

    In a process group each rank scores a share of the streams (rows are independent, so
    the sum is the one-process sum up to float order)."""
    was_training = model.training
    model.eval()
    batches = TBPTTBatches.from_ids(ids, batch_size, bptt)
    if world.size > 1:
        batches = TBPTTBatches(batches.streams[world.rows(batches.batch)], bptt)
    state = model.init_state(batches.batch)
    total, tokens = 0.0, 0
    for inputs, targets in tqdm(batches if batches.batch else [], desc=description,
                                disable=not progress_enabled(progress), leave=False,
                                unit="win"):
        step = model.run(inputs, state)
        state = step.state
        total += float(token_nll(step.logits, targets)) * targets.numel()
        tokens += targets.numel()
    model.train(was_training)
    total, all_tokens = world.sum(total, tokens)
    return SplitScore(total, int(all_tokens))


def run_epoch(
    model: LanguageModel,
    train_batches: TBPTTBatches,
    valid_ids: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    config: LMTrainConfig,
    epoch: int,
    *,
    progress: bool = False,
    world: World = SINGLE,
    trainer: LanguageModel | ReplicatedLM | None = None,
) -> EpochMetrics:
    """Set the epoch's learning rate, train one epoch, evaluate on valid.

    ``trainer`` is what trains (in a process group, ``model`` as a
    :class:`~rnnlab.train.distributed.ReplicatedLM`); ``model`` itself is evaluated."""
    start = time.perf_counter()
    learning_rate = config.learning_rate_at(epoch)
    for group in optimizer.param_groups:
        group["lr"] = learning_rate
    train = train_epoch(
        trainer or model, train_batches, optimizer, config.max_grad_norm,
        progress=progress, description=f"epoch {epoch}/{config.epochs}", world=world,
    )  # fmt: skip
    # A finite but astronomically large NLL (mean > ~709 nats) also means divergence: a
    # uniform guess scores log(vocab), and the perplexity exp(mean NLL) overflows to inf.
    advice = lm_advice(learning_rate, config.max_grad_norm)
    check_finite(train.perplexity, f"the training perplexity of epoch {epoch}", advice=advice)
    valid = evaluate(model, valid_ids, config.eval_batch_size, config.bptt, progress=progress,
                     world=world, description=f"valid {epoch}/{config.epochs}")
    check_finite(valid.perplexity, f"the valid perplexity after epoch {epoch}", advice=advice)
    return EpochMetrics(
        epoch=epoch,
        learning_rate=learning_rate,
        train_perplexity=train.perplexity,
        valid_perplexity=valid.perplexity,
        seconds=time.perf_counter() - start,
        train_tokens=train.tokens,
    )
