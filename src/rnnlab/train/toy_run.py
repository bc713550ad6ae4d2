"""Train one toy-task run: Adam on generated batches, evaluated every ``eval_every`` steps.

A toy task has no epochs (its data never runs out); an *evaluation* plays the epoch's part:
record k holds the held-out losses after ``k · eval_every`` steps (record 0: at
initialisation), so the result store, the progress bar and the report treat it as epoch k::

    step   0      eval_every   2·eval_every   ...   steps
    record 0      1            2              ...   steps / eval_every
           (init) train_loss = mean over the steps since the previous record

Every record is checkpointed (model, optimiser, step, records, and for quotes the state the
streams carry into the next window); the batch of step s depends on (seed, s) only
(:mod:`rnnlab.train.toy_tasks`), so a resumed run continues with exactly the numbers an
uninterrupted one would have had.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from rnnlab._config import check_known_keys, is_int
from rnnlab._epoch_metrics import EpochMetrics
from rnnlab.models.toys import ToyModel, ToyModelConfig
from rnnlab.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from rnnlab.train.divergence import check_finite
from rnnlab.train.run_files import run_checkpoint, write_json
from rnnlab.train.toy_tasks import ToyData

__all__ = ["SavedToyRun", "ToyRunResult", "ToyTrainConfig", "load_toy_run", "train_toy"]

CHECKPOINT, CONFIG, METRICS = "checkpoint.pt", "config.json", "metrics.json"
CHECKPOINT_FORMAT = "rnnlab-toy-run-1"
OnRecord = Callable[[EpochMetrics], None]


@dataclass(frozen=True)
class ToyTrainConfig:
    """How a toy run trains; defaults are the bundled default profile's."""

    steps: int = 2000  # parameter updates in all
    eval_every: int = 100  # steps between records (each is a point of the learning curve)
    batch_size: int = 64  # sequences per step
    lr: float = 1e-3  # Adam
    # Step decay (char-rnn's schedule, Karpathy et al. 2015): from step lr_decay_start on, the
    # rate is multiplied by lr_decay every lr_decay_every steps. 1.0 keeps it constant.
    lr_decay: float = 1.0
    lr_decay_every: int = 1000
    lr_decay_start: int = 0
    clip_grad_norm: float | None = 1.0  # clipping keeps the tanh RNN's exploding steps finite
    eval_batch_size: int = 500  # evaluation only: same numbers, fewer passes

    def __post_init__(self) -> None:
        for name, high in (("steps", 10_000_000), ("eval_every", 10_000_000),
                           ("batch_size", 100_000), ("eval_batch_size", 100_000),
                           ("lr_decay_every", 10_000_000)):
            value = getattr(self, name)
            if not is_int(value) or not 1 <= value <= high:
                raise ValueError(f"{name} must be an int in [1, {high}], got {value!r}")
        if self.steps % self.eval_every:
            raise ValueError(f"steps ({self.steps}) must be a multiple of eval_every "
                             f"({self.eval_every}), so the last record is at the last step")
        if isinstance(self.lr, bool) or not isinstance(self.lr, int | float) or not (
                0 < self.lr <= 100):
            raise ValueError(f"lr must be a number in (0, 100], got {self.lr!r}")
        if isinstance(self.lr_decay, bool) or not isinstance(self.lr_decay, int | float) or not (
                0 < self.lr_decay <= 1):
            raise ValueError(f"lr_decay must be a factor in (0, 1] (1 = a constant rate), got "
                             f"{self.lr_decay!r}")
        if not is_int(self.lr_decay_start) or (
                not 0 <= self.lr_decay_start <= 10_000_000):
            raise ValueError(f"lr_decay_start must be a step in [0, 10000000], got "
                             f"{self.lr_decay_start!r}")
        if self.clip_grad_norm is not None and not (
                isinstance(self.clip_grad_norm, int | float) and self.clip_grad_norm > 0):
            raise ValueError(f"clip_grad_norm must be > 0 or None, got {self.clip_grad_norm!r}")

    @property
    def records(self) -> int:
        """Records after initialisation: steps / eval_every (the 'epochs' of the run)."""
        return self.steps // self.eval_every

    def lr_at(self, step: int) -> float:
        """The learning rate of step ``step`` (0-based): a function of the step alone, so a
        resumed run continues on the same schedule."""
        decays = 0 if step < self.lr_decay_start else (
            (step - self.lr_decay_start) // self.lr_decay_every)
        return self.lr * self.lr_decay ** decays

    @property
    def schedule(self) -> dict[str, Any]:
        """The schedule settings a checkpoint must match to resume; empty for a constant
        rate, so runs written before the schedule existed still resume."""
        if self.lr_decay == 1.0:
            return {}
        return {"lr_decay": self.lr_decay, "lr_decay_every": self.lr_decay_every,
                "lr_decay_start": self.lr_decay_start}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.lr_decay == 1.0:  # configs written before the schedule stay the same
            for key in ("lr_decay", "lr_decay_every", "lr_decay_start"):
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyTrainConfig:
        check_known_keys(dict(data), cls, "toy training key")
        return cls(**data)


@dataclass(frozen=True)
class ToyRunResult:
    model: ToyModel
    history: tuple[EpochMetrics, ...]  # record 0 (initialisation) ... last
    baseline: float

    @property
    def final(self) -> EpochMetrics:
        return self.history[-1]


@dataclass(frozen=True)
class SavedToyRun:
    """A toy run read back from its directory: the model (eval mode, the last record's
    weights) and the configs it was trained with."""

    run_dir: Path
    model: ToyModel
    task: dict[str, Any]  # ToyTaskConfig.to_dict(): rebuild the data with build_toy_data
    seed: int
    records: int  # evaluations recorded, record 0 (initialisation) included


def load_toy_run(run_dir: str | Path) -> SavedToyRun:
    """Load the toy run in ``run_dir`` (``checkpoint.pt``, ``weights_only=True``).

    Raises FileNotFoundError when the directory does not exist, CheckpointError when it
    holds no toy-run checkpoint (none, a damaged one, or another kind of run's).
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"run_dir={str(path)!r} does not exist; pass a toy run's "
                                "directory, <study --out>/runs/<task>/<cell>/run<r>")
    payload = load_checkpoint(run_checkpoint(
        path, "toy run", "a toy study keeps its runs in <--out>/runs/<task>/<cell>/run<r>"))
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path / CHECKPOINT} is not a toy-task run (format "
                              f"{payload.get('format')!r}, expected {CHECKPOINT_FORMAT!r})")
    identity = payload["identity"]
    model = ToyModel(ToyModelConfig.from_dict(identity["model"]))
    model.load_state_dict(payload["model"])
    model.eval()
    return SavedToyRun(path, model, dict(identity["task"]), int(identity["seed"]),
                       len(payload["metrics"]))


@torch.no_grad()
def evaluate(model: ToyModel, data: ToyData, split: str, batch_size: int) -> tuple[float, float]:
    """(mean loss, accuracy) on the fixed ``split`` ("valid" or "test")."""
    inputs, targets = getattr(data, split)
    model.eval()
    total_loss, correct, counted = 0.0, 0, 0
    for start in range(0, len(inputs), batch_size):
        x = torch.from_numpy(inputs[start:start + batch_size])
        y = torch.from_numpy(targets[start:start + batch_size])
        outputs = model(x)
        total_loss += float(data.loss(outputs, y)) * len(x)
        hits, count = data.correct(outputs, y)
        correct, counted = correct + hits, counted + count
    model.train()
    return total_loss / len(inputs), correct / counted


def train_toy(model_config: ToyModelConfig, data: ToyData, train_config: ToyTrainConfig, *,
              seed: int, out_dir: str | Path | None = None, on_record: OnRecord | None = None
              ) -> ToyRunResult:
    """Train (or resume, when ``out_dir`` holds this run's checkpoint) one toy run.

    ``on_record`` is called with every record, the restored ones first after a resume.
    Raises ValueError when ``out_dir`` holds a different run, TrainingDivergedError when
    the loss stops being finite.
    """
    if data.carries_state:
        data.steps_per_pass(train_config.batch_size)  # a text too short is refused up front
    torch.manual_seed(seed)  # the initial weights: the same for every run with this seed
    model = ToyModel(model_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_config.lr)
    identity = {"model": model_config.to_dict(), "task": data.config.to_dict(), "seed": seed,
                "data": data.fingerprint(), "eval_every": train_config.eval_every,
                "batch_size": train_config.batch_size, "lr": train_config.lr,
                "clip_grad_norm": train_config.clip_grad_norm, **train_config.schedule}
    out = Path(out_dir) if out_dir is not None else None
    history: list[EpochMetrics] = []
    carried: list[torch.Tensor] = []  # quotes: the streams' state after the last step
    if out is not None and (out / CHECKPOINT).exists():
        history, carried = _restore(out, identity, model, optimizer, train_config)
        for record in history:
            if on_record is not None:
                on_record(record)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / CONFIG, {"model": model_config.to_dict(), "task": data.config.to_dict(),
                                  "training": train_config.to_dict(), "seed": seed,
                                  "baseline": data.baseline})

    def record(epoch: int, train_loss: float | None, started: float) -> None:
        valid_loss, valid_accuracy = evaluate(model, data, "valid", train_config.eval_batch_size)
        test_loss, test_accuracy = evaluate(model, data, "test", train_config.eval_batch_size)
        check_finite(valid_loss, f"the valid loss at step {epoch * train_config.eval_every}",
                     advice="lower the learning rate (training.lr) or clip harder "
                            "(training.clip_grad_norm)")
        metrics = EpochMetrics(epoch=epoch, train_loss=train_loss, valid_loss=valid_loss,
                               valid_accuracy=valid_accuracy, test_loss=test_loss,
                               test_accuracy=test_accuracy,
                               seconds=time.perf_counter() - started)
        history.append(metrics)
        if out is not None:
            save_checkpoint(out / CHECKPOINT, {
                "format": CHECKPOINT_FORMAT, "identity": identity, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "carried_state": carried,
                "metrics": [m.to_dict() for m in history]})
            write_json(out / METRICS, {"baseline": data.baseline,
                                       "records": [m.to_dict() for m in history]})
        if on_record is not None:
            on_record(metrics)

    if not history:
        record(0, None, time.perf_counter())
    for epoch in range(len(history), train_config.records + 1):
        started, losses = time.perf_counter(), []
        for step in range((epoch - 1) * train_config.eval_every, epoch * train_config.eval_every):
            inputs, targets = data.train_batch(seed, step, train_config.batch_size)
            for group in optimizer.param_groups:
                group["lr"] = train_config.lr_at(step)
            if data.starts_pass(step, train_config.batch_size):
                carried = []
            hx = None if not carried else carried[0] if len(carried) == 1 else tuple(carried)
            outputs, state = model(inputs, hx, return_state=True)
            # Truncated BPTT: the next window starts from this state, not through it.
            if data.carries_state:
                carried = [part.detach() for part in (state if isinstance(state, tuple) else
                                                      (state,))]
            loss = data.loss(outputs, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if train_config.clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), train_config.clip_grad_norm)
            optimizer.step()
            losses.append(float(loss.detach()))
        train_loss = sum(losses) / len(losses)
        check_finite(train_loss, f"the training loss before step {epoch * train_config.eval_every}",
                     advice="lower the learning rate (training.lr) or clip harder "
                            "(training.clip_grad_norm)")
        record(epoch, train_loss, started)
    return ToyRunResult(model, tuple(history), data.baseline)


def _restore(out: Path, identity: dict[str, Any], model: ToyModel,
             optimizer: torch.optim.Optimizer, train_config: ToyTrainConfig
             ) -> tuple[list[EpochMetrics], list[torch.Tensor]]:
    payload = load_checkpoint(out / CHECKPOINT)
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{out / CHECKPOINT} is not a toy-task checkpoint; use another out_dir")
    saved = payload["identity"]
    for key, value in identity.items():
        if saved.get(key) != value:
            raise ValueError(f"cannot resume {out}: its {key} differs from this run's (saved "
                             f"{saved.get(key)!r}, now {value!r}); use another out_dir")
    history = [EpochMetrics.from_dict(m) for m in payload["metrics"]]
    if len(history) - 1 > train_config.records:
        raise ValueError(f"steps={train_config.steps} but {out} already holds "
                         f"{(len(history) - 1) * train_config.eval_every} steps")
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    return history, list(payload.get("carried_state", []))
