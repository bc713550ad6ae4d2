"""``train_classifier``: one seeded, checkpointed, resumable training run of a classifier.

The experiment runner calls it once per (arrangement, run)::

    data = encode_dataset(load_dataset("imdb-short"))          # encode once per study
    for name in SEED_ARRANGEMENTS:
        config = classifier_config_for(data, name)
        result = train_classifier(config, data, seed=run_seed, out_dir=run_dir / name,
                                  resume=True, on_epoch=record, progress=False)

What makes two runs with the same seed give the same numbers bit for bit (on CPU, with the
same number of threads — set by the caller): initial weights from per-part generators, the
batch order from ``(data_seed, epoch)``, dropout from a global RNG seeded here inside
``torch.random.fork_rng`` (so the caller's RNG is left untouched), and a checkpoint after
every epoch that holds every one of these states.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from rnnlab.data.prepare import ClassificationData
from rnnlab.models import ClassifierConfig, SequenceClassifier, part_seed
from rnnlab.train.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from rnnlab.train.config import TrainConfig
from rnnlab.train.distributed import World, current_world, replicate
from rnnlab.train.divergence import check_finite, classifier_advice
from rnnlab.train.loop import EarlyStopping, epoch_batches, train_one_epoch
from rnnlab.train.metrics import EpochMetrics, evaluate_split
from rnnlab.train.progress import EpochBar, progress_enabled
from rnnlab.train.run_files import (
    CHECKPOINT,
    CHECKPOINT_FORMAT,
    CONFIG,
    METRICS,
    VOCAB,
    write_json,
)
from rnnlab.train.run_lock import run_lock
from rnnlab.train.shards import check_examples, evaluate_shared
from rnnlab.train.transfer import build_classifier
from rnnlab.train.unfreezing import apply_unfreezing, optimizer_groups

OnEpoch = Callable[[EpochMetrics], None]
SEED_TRAINING = TrainConfig()  # seed 002: Adam 1e-3, batch 32, 5 epochs


@dataclass(frozen=True, eq=False)
class RunResult:
    """What a training run ends with.

    ``final`` holds the metrics of the weights ``model`` ends with: the best-valid-loss
    epoch's when early stopping is on and ``restore_best``, else the last epoch's.
    """

    model: SequenceClassifier
    history: tuple[EpochMetrics, ...]
    final: EpochMetrics
    best_epoch: int
    stopped_early: bool
    resumed_from: int  # epochs restored from a checkpoint (0 = trained from scratch)
    out_dir: Path | None

    def final_dict(self) -> dict[str, Any]:
        """``metrics.json``'s ``"final"`` entry."""
        return {**self.final.to_dict(), "best_epoch": self.best_epoch,
                "stopped_early": self.stopped_early, "epochs_run": len(self.history)}


def classifier_config_for(
    data: ClassificationData, arrangement: str | None = None, **overrides: Any
) -> ClassifierConfig:
    """A config whose vocabulary, classes and padding side match ``data``.

    ``arrangement`` is a seed-002 name (None = the :class:`ClassifierConfig` defaults).
    """
    matched = {"vocab_size": len(data.vocab), "num_classes": data.num_classes,
               "padding": data.padding, **overrides}
    if arrangement is None:
        return ClassifierConfig(**matched)
    return ClassifierConfig.from_arrangement(arrangement, **matched)


def check_compatible(config: ClassifierConfig, data: ClassificationData) -> None:
    """Raise a ValueError naming the field if ``config`` cannot be trained on ``data``."""
    if config.vocab_size < len(data.vocab):
        raise ValueError(f"vocab_size={config.vocab_size} is smaller than the data's vocabulary "
                         f"({len(data.vocab)} ids); use classifier_config_for(data, ...)")
    if config.num_classes != data.num_classes:
        raise ValueError(f"num_classes={config.num_classes} but the data has "
                         f"{data.num_classes} classes {list(data.label_names)}")
    if config.padding != data.padding:
        raise ValueError(f"padding={config.padding!r} but the data is padded "
                         f"{data.padding!r}; they must agree")


def train_classifier(
    config: ClassifierConfig,
    data: ClassificationData,
    *,
    seed: int,
    out_dir: str | os.PathLike[str] | None = None,
    epochs: int | None = None,
    train_config: TrainConfig = SEED_TRAINING,
    resume: bool = False,
    on_epoch: OnEpoch | None = None,
    progress: bool = True,
    data_seed: int | None = None,
) -> RunResult:
    """Train a :class:`SequenceClassifier` on encoded data, checkpointing every epoch.

    Args:
        config: the model (see :func:`classifier_config_for`).
        data: encoded train/valid/test arrays with their vocabulary.
        seed: initial weights and dropout.
        out_dir: where checkpoint.pt, config.json, vocab.json and metrics.json go; None
            trains in memory only (no checkpoints, no resume).
        epochs: overrides ``train_config.epochs``.
        train_config: optimiser, batch size, clipping, early stopping.
        resume: continue from ``out_dir/checkpoint.pt`` if it exists; ends with exactly the
            metrics an uninterrupted run would have. Without it an existing checkpoint is an
            error (nothing is overwritten).
        on_epoch: called after each epoch's checkpoint is written. On resume it is first
            called again for every epoch restored from the checkpoint, so a caller that missed
            the last one (killed between checkpoint and callback) catches up.
        progress: a progress bar on stderr (only when it is a terminal).
        data_seed: seeds the batch order (default ``seed``); arrangements of one run share it
            to see the same batches.

    In a torchrun process group (:mod:`rnnlab.train.distributed`) every rank calls this with
    the same arguments; ``train_config.batch_size`` is per rank, rank 0 alone writes
    ``out_dir`` and calls ``on_epoch``, and the metrics are over all ranks' examples.
    Writing ``out_dir`` needs its lock (:mod:`rnnlab.train.run_lock`): a second process
    writing the same directory is refused.
    """
    if epochs is not None:
        train_config = replace(train_config, epochs=epochs)
    data_seed = seed if data_seed is None else data_seed
    check_compatible(config, data)
    if resume and out_dir is None:
        raise ValueError("resume=True needs out_dir (the directory of the run to continue)")
    if train_config.patience is not None and len(data.valid) == 0:
        raise ValueError("patience (early stopping) needs a non-empty valid split")
    out_path = Path(out_dir) if out_dir is not None else None
    if out_path is not None and out_path.exists() and not out_path.is_dir():
        raise ValueError(f"out_dir={str(out_path)!r} is a file, not a directory")
    world = current_world()
    if world.size > 1:
        check_examples(len(data.train), world)
    run = _Run(config, data, train_config, seed=seed, data_seed=data_seed, out_dir=out_path,
               world=world)
    on_epoch = on_epoch if world.is_main else None
    with torch.random.fork_rng(devices=[]), ExitStack() as held:
        # rank 0 draws the dropout masks a single process would; the others their own
        torch.manual_seed(part_seed(seed, "training" if world.is_main
                                    else f"training/rank{world.rank}"))
        if out_path is not None:
            run.open(resume=resume, on_epoch=on_epoch, held=held)
        run.train(on_epoch=on_epoch, progress=progress and world.is_main)
    return run.result()


class _Run:
    """The mutable state of one run: model, optimiser, history, early stopping."""

    def __init__(self, config: ClassifierConfig, data: ClassificationData,
                 train_config: TrainConfig, *, seed: int, data_seed: int,
                 out_dir: Path | None, world: World) -> None:
        self.config, self.data, self.train_config = config, data, train_config
        self.seed, self.data_seed, self.out_dir = seed, data_seed, out_dir
        self.world = world
        # a plain SequenceClassifier, or one built from pretrained vectors or a bi-LM
        self.model, self.transfer = build_classifier(config, data, seed=seed)
        self.trainer = replicate(self.model, world)  # what trains: DDP in a process group
        self.optimizer = torch.optim.Adam(
            optimizer_groups(self.model, train_config.lr), lr=train_config.lr,
            betas=train_config.betas,
            eps=train_config.eps, weight_decay=train_config.weight_decay)
        self.stopping = EarlyStopping(train_config.patience)
        self.history: list[EpochMetrics] = []
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stopped_early = False
        self.resumed_from = 0

    # -- identity of a run: what a checkpoint must match to be resumed ------------------------
    def identity(self) -> dict[str, Any]:
        train = self.train_config.to_dict()
        del train["epochs"]  # a finished run may be continued for more epochs
        return {"model_config": self.config.to_dict(), "train_config_without_epochs": train,
                "seed": self.seed, "data_seed": self.data_seed,
                "data_fingerprint": self.data.fingerprint()}

    def open(self, *, resume: bool, on_epoch: OnEpoch | None, held: ExitStack) -> None:
        payload = self.world.on_main(lambda: self._lock_and_read(resume, held))
        if payload is not None:
            self._restore(payload)
            for metrics in self.history:
                if on_epoch is not None:
                    on_epoch(metrics)
        if not self.world.is_main:
            return
        assert self.out_dir is not None
        self.data.vocab.save(self.out_dir / VOCAB)
        # (re)written on resume too: the number of epochs may have grown
        write_json(self.out_dir / CONFIG, {
            "label": self.config.label,  # what it trains, e.g. "MS_RST_biGRU+layernorm"
            "model": self.config.to_dict(), "train": self.train_config.to_dict(),
            "seed": self.seed, "data_seed": self.data_seed, "data": self.data.describe(),
            **({"transfer": self.transfer} if self.transfer else {})})

    def _lock_and_read(self, resume: bool, held: ExitStack) -> dict[str, Any] | None:
        """Take the run directory's lock (kept until ``held`` closes) and read its checkpoint
        (None for a new run)."""
        assert self.out_dir is not None
        held.enter_context(run_lock(self.out_dir, "out_dir (--out)"))
        checkpoint = self.out_dir / CHECKPOINT
        if not checkpoint.exists():
            return None
        if not resume:
            raise ValueError(f"out_dir={str(self.out_dir)!r} already holds a run "
                             f"({CHECKPOINT}); pass resume=True (--resume) to continue "
                             f"it, or choose another out_dir")
        return load_checkpoint(checkpoint)

    def _restore(self, payload: dict[str, Any]) -> None:
        if payload.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{self.out_dir / CHECKPOINT} is not a classifier run checkpoint")
        saved, current = payload["identity"], self.identity()
        for key, value in current.items():
            if saved.get(key) != value:
                raise ValueError(
                    f"cannot resume {self.out_dir}: its {key} differs from this run's "
                    f"(saved {saved.get(key)!r}, now {value!r}); use another out_dir")
        if payload["epoch"] > self.train_config.epochs:
            raise ValueError(f"epochs={self.train_config.epochs} but the checkpoint in "
                             f"{self.out_dir} already has {payload['epoch']} epochs")
        saved_world = int(payload.get("world_size", 1))
        if saved_world != self.world.size:
            raise ValueError(
                f"cannot resume {self.out_dir}: it was trained by {saved_world} process(es), "
                f"this is {self.world.size}; resume it with torchrun --nproc-per-node "
                f"{saved_world} (or without torchrun for 1)")
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        restore_rng_state(payload["rng"] if self.world.is_main
                          else payload["rank_rng"][self.world.rank - 1])
        self.history = [EpochMetrics.from_dict(m) for m in payload["metrics"]]
        self.stopping = EarlyStopping.from_state_dict(payload["early_stopping"])
        self.best_state = payload["best_model"]
        self.stopped_early = bool(payload["stopped_early"])
        self.resumed_from = int(payload["epoch"])

    # -- training -----------------------------------------------------------------------------
    def train(self, *, on_epoch: OnEpoch | None, progress: bool) -> None:
        show = progress_enabled(progress)
        for epoch in range(len(self.history) + 1, self.train_config.epochs + 1):
            if self.stopped_early:
                break
            apply_unfreezing(self.model, epoch)  # a fine-tuned encoder: ULMFiT's schedule
            for group in self.optimizer.param_groups:  # a function of the epoch: resumable
                group["lr"] = group.setdefault("initial_lr", group["lr"]) * (
                    self.train_config.lr_factor(epoch))
            metrics = self._epoch(epoch, show)
            self.history.append(metrics)
            if self.stopping.update(epoch, metrics.valid_loss):
                self.best_state = {k: v.detach().clone()
                                   for k, v in self.model.state_dict().items()}
            self.stopped_early = self.stopping.should_stop and epoch < self.train_config.epochs
            if self.out_dir is not None:
                self._save(epoch)
            if on_epoch is not None:
                on_epoch(metrics)
        if self.use_best:
            self.model.load_state_dict(self.best_state)
        self.model.eval()
        if self.out_dir is not None and self.world.is_main:
            self._write_metrics()

    def _epoch(self, epoch: int, show: bool) -> EpochMetrics:
        started = time.perf_counter()
        data, config = self.data, self.train_config
        # the batches of one process with every rank's examples; each rank trains its piece
        whole = replace(config, batch_size=config.batch_size * self.world.size)
        batches = epoch_batches(data.train, whole, data_seed=self.data_seed, epoch=epoch)
        bar = EpochBar(batches, epoch=epoch, epochs=config.epochs, enabled=show,
                       label=self.config.label)
        train_loss, train_accuracy = train_one_epoch(
            self.trainer, self.optimizer, data.train, batches, padding=data.padding,
            config=config, bar=bar, epoch=epoch, world=self.world)
        scores = {}
        for name in ("valid", "test"):
            split, size = data.split(name), config.eval_batch_size
            scores[name] = (None, None) if len(split) == 0 else (
                evaluate_split(self.model, split, padding=data.padding, batch_size=size,
                               progress=show, description=f"{name} {epoch}/{config.epochs}")
                if self.world.size == 1 else evaluate_shared(
                    self.model, split, padding=data.padding, batch_size=size, world=self.world))
            if scores[name][0] is not None:  # the last update can break a finite run
                check_finite(scores[name][0], f"the {name} loss after epoch {epoch}",
                             advice=classifier_advice(config.lr, config.clip_grad_norm))
        return EpochMetrics(
            epoch=epoch, train_loss=train_loss, train_accuracy=train_accuracy,
            valid_loss=scores["valid"][0], valid_accuracy=scores["valid"][1],
            test_loss=scores["test"][0], test_accuracy=scores["test"][1],
            seconds=time.perf_counter() - started)

    @property
    def use_best(self) -> bool:
        return (self.train_config.patience is not None and self.train_config.restore_best
                and self.best_state is not None)

    def _save(self, epoch: int) -> None:
        assert self.out_dir is not None
        rng = self.world.gather(capture_rng_state())  # every rank's, for an exact resume
        if not self.world.is_main:
            return
        save_checkpoint(self.out_dir / CHECKPOINT, {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": rng[0],
            "rank_rng": rng[1:],
            "world_size": self.world.size,
            "metrics": [m.to_dict() for m in self.history],
            "early_stopping": self.stopping.state_dict(),
            "best_model": self.best_state,
            "use_best": self.use_best,
            "stopped_early": self.stopped_early,
            "identity": self.identity(),
            "model_config": self.config.to_dict(),
            "train_config": self.train_config.to_dict(),
            "vocab": self.data.vocab.to_dict(),
            "label_names": list(self.data.label_names),
            "data_name": self.data.name,
            "encoding": asdict(self.data.encoding),
        })
        self._write_metrics()

    def _write_metrics(self) -> None:
        assert self.out_dir is not None
        payload: dict[str, Any] = {"epochs": [m.to_dict() for m in self.history]}
        if self.history:
            payload["final"] = self.result().final_dict()
        write_json(self.out_dir / METRICS, payload)

    def result(self) -> RunResult:
        if not self.history:
            raise ValueError("the run has no epochs (epochs must be >= 1)")
        final_epoch = self.stopping.best_epoch if self.use_best else len(self.history)
        return RunResult(model=self.model, history=tuple(self.history),
                         final=self.history[final_epoch - 1],
                         best_epoch=self.stopping.best_epoch, stopped_early=self.stopped_early,
                         resumed_from=self.resumed_from, out_dir=self.out_dir)
