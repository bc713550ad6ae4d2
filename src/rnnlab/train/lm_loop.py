"""Training a language model with truncated BPTT: epochs, lr schedule, clipping, evaluation.

One epoch walks the windows of :class:`~rnnlab.data.tbptt.TBPTTBatches` in order, carrying
the LSTM state from window to window and detaching it (gradients flow back at most ``bptt``
steps). The loss is Zaremba et al.'s: token NLL summed over the window's steps and averaged
over the batch (``mean NLL × time``), the scale their learning rate of 1 and clip norms of
5/10 were tuned for (pytorch/examples averages over time too and so needs lr 20). Perplexity
is ``exp(mean token NLL)`` over every predicted token of a split.

The AWD-LSTM options (Merity et al. 2017) change four things, each off by default:
``loss_reduction="mean"`` trains on the mean token NLL with the learning rate scaled by
``time / bptt`` per window (their code's ``eff_lr``; clip norm and lr then mean what they
meant there: 0.25 and 30), ``ar``/``tar`` add :mod:`rnnlab.train.lm_regularizers`,
``variable_bptt`` draws window lengths (:mod:`rnnlab.train.variable_bptt`), and ``nt_asgd``
averages the iterates once validation stalls (:mod:`rnnlab.train.asgd`).

A run directory holds ``checkpoint.pt`` (rewritten atomically after every epoch: weights,
optimizer, configs, vocabulary, history, RNG state) and ``history.json``; see
:mod:`rnnlab.train.lm_run` for resuming and :func:`rnnlab.train.load_run` for evaluating.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace

import torch
from tqdm.auto import tqdm

from rnnlab.data.tbptt import TBPTTBatches, detach_state
from rnnlab.models import part_seed
from rnnlab.models.language_model import LanguageModel, LMStep, perplexity, token_nll
from rnnlab.models.lm_presets import LMPreset
from rnnlab.train.asgd import ParameterAverage
from rnnlab.train.distributed import SINGLE, ReplicatedLM, World
from rnnlab.train.divergence import check_finite
from rnnlab.train.lm_regularizers import (
    activation_regularization,
    temporal_activation_regularization,
)
from rnnlab.train.metrics import EpochMetrics
from rnnlab.train.progress import progress_enabled
from rnnlab.train.variable_bptt import VariableBPTTBatches

LOSS_REDUCTIONS = ("sum", "mean")


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
    # AWD-LSTM (Merity et al. 2017; their values in the comments); the defaults are off.
    weight_decay: float = 0.0  # SGD's L2 penalty (AWD 1.2e-6)
    ar: float = 0.0  # activation regularisation α on the last layer (AWD 2)
    tar: float = 0.0  # temporal activation regularisation β (AWD 1)
    loss_reduction: str = "sum"  # "sum": Zaremba's NLL × time; "mean": AWD's, lr × time/bptt
    variable_bptt: bool = False  # window lengths ~ N(bptt, 5), 5 % N(bptt/2, 5) (AWD: on)
    nt_asgd: bool = False  # average the iterates once valid stalls (AWD: on)
    nonmono: int = 5  # NT-ASGD's non-monotone interval n, in epochs (AWD 5)

    def __post_init__(self) -> None:
        for name in ("batch_size", "bptt", "epochs", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name, flag in (("weight_decay", "--weight-decay"), ("ar", "--alpha"),
                           ("tar", "--beta")):
            value = getattr(self, name)
            if isinstance(value, bool) or not value >= 0:  # (NaN fails too)
                raise ValueError(f"{name} ({flag}) must be >= 0 (0 is off), got {value!r}")
        if self.loss_reduction not in LOSS_REDUCTIONS:
            raise ValueError(f"loss_reduction must be one of {LOSS_REDUCTIONS}, got "
                             f"{self.loss_reduction!r}")
        if isinstance(self.nonmono, bool) or not isinstance(self.nonmono, int) \
                or self.nonmono < 0:
            raise ValueError(f"nonmono (--nonmono) must be an int >= 0 (epochs; AWD 5), got "
                             f"{self.nonmono!r}")
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
            "eval_batch_size": preset.eval_batch_size,
            "weight_decay": preset.weight_decay,
            "ar": preset.ar,
            "tar": preset.tar,
            "loss_reduction": preset.loss_reduction,
            "variable_bptt": preset.variable_bptt,
            "nt_asgd": preset.nt_asgd,
            "nonmono": preset.nonmono,
        }
        return replace(cls(), **{**fields, **overrides})  # type: ignore[arg-type]

    def train_batches(self, batches: TBPTTBatches, epoch: int
                      ) -> TBPTTBatches | VariableBPTTBatches:
        """Epoch ``epoch``'s windows: ``batches`` itself, or lengths drawn from a seed of
        (seed, epoch) with ``variable_bptt``, so a resumed epoch draws the same ones."""
        if not self.variable_bptt:
            return batches
        return VariableBPTTBatches.draw(batches, part_seed(self.seed, f"lm/bptt/{epoch}"))

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


def window_objective(step: LMStep, targets: torch.Tensor, config: LMTrainConfig
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean token NLL of a window and what is differentiated: ``(NLL + AR + TAR)`` ×
    ``time`` (Zaremba's ``"sum"``) or × 1 (AWD's ``"mean"``)."""
    mean_nll = token_nll(step.logits, targets)
    objective = mean_nll
    if config.ar or config.tar:
        if step.last_output is None or step.dropped_output is None:
            raise ValueError("AR/TAR (--alpha/--beta) need the last layer's outputs, which "
                             "this model wrapper does not return (the torchrun one); train in "
                             "one process or pass --alpha 0 --beta 0")
        if config.ar:
            objective = objective + activation_regularization(step.dropped_output, config.ar)
        if config.tar:
            objective = objective + temporal_activation_regularization(step.last_output,
                                                                       config.tar)
    scale = targets.shape[1] if config.loss_reduction == "sum" else 1
    return mean_nll, objective * scale


def train_epoch(
    model: LanguageModel,
    batches: TBPTTBatches | VariableBPTTBatches,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float,
    *,
    progress: bool = False,
    description: str = "train",
    on_window: WindowHook | None = None,
    world: World = SINGLE,
    config: LMTrainConfig | None = None,
    average: ParameterAverage | None = None,
) -> SplitScore:
    """One pass over ``batches`` in order, the state carried and detached between windows.

    In a process group ``model`` is a :class:`~rnnlab.train.distributed.ReplicatedLM`,
    ``batches`` this rank's slice of the stream, and the score is summed over the ranks.

    ``config`` supplies the loss (:func:`window_objective`; default: Zaremba's summed NLL);
    with ``loss_reduction="mean"`` each window's lr is the group's × ``time / bptt``.
    ``average`` (NT-ASGD, once triggered) takes in the weights after every step.

    ``on_window(index, initial_state, final_state)`` is called after each window (tests use
    it to see the state hand-over). Returns the training NLL (with dropout active). A NaN or
    infinite window loss raises :class:`~rnnlab.train.divergence.TrainingDivergedError` before
    that window updates the weights.
    """
    config = config or LMTrainConfig(max_grad_norm=max_grad_norm)
    weights = unwrapped(model)
    model.train()
    state = model.init_state(batches.batch)
    total, tokens = 0.0, 0
    bar = tqdm(batches, desc=description, disable=not progress_enabled(progress), leave=False,
               unit="win")
    for index, (inputs, targets) in enumerate(bar):
        initial = state
        step = model.run(inputs, initial)
        mean_nll, objective = window_objective(step, targets, config)
        window_nll = world.finite_or_nan(float(mean_nll.detach()))
        if not math.isfinite(window_nll):
            bar.close()
            check_finite(window_nll, f"the training loss of window {index + 1} of "
                         f"{len(batches)} ({description})",
                         advice=lm_advice(optimizer.param_groups[0]["lr"], max_grad_norm))
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        with _window_learning_rate(optimizer, targets.shape[1] / batches.bptt
                                   if config.loss_reduction == "mean" else 1.0):
            optimizer.step()
        if average is not None:
            average.update(weights)
        state = detach_state(step.state)
        if on_window is not None:
            on_window(index, initial, state)
        total += window_nll * targets.numel()
        tokens += targets.numel()
        if index % 20 == 0:
            bar.set_postfix(ppl=f"{math.exp(min(total / tokens, 50.0)):.1f}")
    total, all_tokens = world.sum(total, tokens)
    return SplitScore(total, int(all_tokens))


def unwrapped(model: LanguageModel | ReplicatedLM) -> LanguageModel:
    """The language model a trainer steps (a ReplicatedLM's ``model``)."""
    return model.model if isinstance(model, ReplicatedLM) else model


@contextlib.contextmanager
def _window_learning_rate(optimizer: torch.optim.Optimizer, factor: float) -> Iterator[None]:
    """Every group's lr × ``factor`` within the block (AWD: ``time / bptt`` for a variable
    window under the mean loss), restored exactly after."""
    if factor == 1.0:
        yield
        return
    saved = [group["lr"] for group in optimizer.param_groups]
    for group, lr in zip(optimizer.param_groups, saved):
        group["lr"] = lr * factor
    try:
        yield
    finally:
        for group, lr in zip(optimizer.param_groups, saved):
            group["lr"] = lr


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
    average: ParameterAverage | None = None,
) -> EpochMetrics:
    """Set the epoch's learning rate, train one epoch, evaluate on valid.

    ``trainer`` is what trains (in a process group, ``model`` as a
    :class:`~rnnlab.train.distributed.ReplicatedLM`); ``model`` itself is evaluated, with
    the NT-ASGD ``average``'s weights once it holds any."""
    start = time.perf_counter()
    learning_rate = config.learning_rate_at(epoch)
    for group in optimizer.param_groups:
        group["lr"] = learning_rate
    train = train_epoch(
        trainer or model, config.train_batches(train_batches, epoch), optimizer,
        config.max_grad_norm, progress=progress, description=f"epoch {epoch}/{config.epochs}",
        world=world, config=config, average=average,
    )  # fmt: skip
    # A finite but astronomically large NLL (mean > ~709 nats) also means divergence: a
    # uniform guess scores log(vocab), and the perplexity exp(mean NLL) overflows to inf.
    advice = lm_advice(learning_rate, config.max_grad_norm)
    check_finite(train.perplexity, f"the training perplexity of epoch {epoch}", advice=advice)
    with average.swapped_in(model) if average is not None else contextlib.nullcontext():
        valid = evaluate(model, valid_ids, config.eval_batch_size, config.bptt,
                         progress=progress, world=world,
                         description=f"valid {epoch}/{config.epochs}")
    check_finite(valid.perplexity, f"the valid perplexity after epoch {epoch}", advice=advice)
    return EpochMetrics(
        epoch=epoch,
        learning_rate=learning_rate,
        train_perplexity=train.perplexity,
        valid_perplexity=valid.perplexity,
        seconds=time.perf_counter() - start,
        train_tokens=train.tokens,
    )
