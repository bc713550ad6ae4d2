"""``train_tagger``: one seeded, checkpointed, resumable training run of a :class:`Tagger`.

    runs/tagger/
      checkpoint.pt         model, optimizer, RNG state, epoch, vocabs, configs, data spec,
                            metrics, best weights (atomic, with checkpoint.pt.sha256 beside it)
      config.json           model / train config, seed, data spec (human-readable copy)
      vocab.json            the word vocabulary; chars.json the characters; tags in config.json
      metrics.json          {"epochs": [...], "final": {...} once training ends}
      report.md, report.json  the test-split report (see rnnlab.train.tagger_report)

As for classifiers (:mod:`rnnlab.train.classifier_run`), the same seed gives the same numbers
on the same thread count: initial weights from ``seed``, the batch order and the word dropout
from ``(data_seed, epoch)``, dropout from a global RNG seeded here inside ``fork_rng`` and
saved in every checkpoint, so a resumed run ends exactly where an uninterrupted one would.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.core.padding import lengths_to_mask
from rnnlab.data.tagging import TaggingDataset
from rnnlab.models.init import part_seed
from rnnlab.models.tagger import Tagger, TaggerConfig
from rnnlab.train.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from rnnlab.train.config import TrainConfig
from rnnlab.train.divergence import check_finite, classifier_advice
from rnnlab.train.loop import EarlyStopping, epoch_batches
from rnnlab.train.metrics import EpochMetrics
from rnnlab.train.progress import EpochBar, progress_enabled
from rnnlab.train.run_files import CHECKPOINT, CONFIG, METRICS, VOCAB, write_json
from rnnlab.train.tagger_data import (
    TaggerVocabs,
    WordDropout,
    encode_tagging,
    fingerprint,
    singleton_ids,
)
from rnnlab.train.tagger_eval import TAGGER_FORMAT, evaluate_encoded, write_report

CHARS = "chars.json"
# Adam 2e-3 with clipping, 32 sentences a batch, early stopping on the valid loss.
TAGGER_TRAINING = TrainConfig(epochs=20, batch_size=32, lr=2e-3, eps=1e-8, clip_grad_norm=5.0,
                              patience=4, bucket_pool_batches=50, eval_batch_size=256)


@dataclass(frozen=True, eq=False)
class TaggerRunResult:
    model: Tagger
    vocabs: TaggerVocabs
    history: tuple[EpochMetrics, ...]
    final: EpochMetrics  # the epoch whose weights ``model`` holds
    resumed_from: int
    out_dir: Path | None


def train_tagger(
    data: TaggingDataset, *, out_dir: str | os.PathLike[str] | None = None, seed: int = 0,
    train_config: TrainConfig = TAGGER_TRAINING, model_options: dict[str, Any] | None = None,
    unk_replace: float = 0.5, data_spec: dict[str, Any] | None = None, resume: bool = False,
    progress: bool = True,
) -> TaggerRunResult:
    """Train a tagger on ``data`` (vocabularies fitted on its train split).

    ``model_options`` are :class:`TaggerConfig` fields other than the sizes the data fixes;
    ``data_spec`` is saved so ``rnnlab tag evaluate`` can load the same data again; with
    ``resume`` an existing checkpoint in ``out_dir`` is continued (else it is an error).
    """
    if not data.train:
        raise ValueError(f"{data.name}: the train split is empty; nothing to train on")
    if not 0.0 <= unk_replace < 1.0:
        raise ValueError(f"unk_replace must be in [0, 1), got {unk_replace!r}")
    if train_config.patience is not None and not data.valid:
        train_config = replace(train_config, patience=None)  # nothing to stop early on
    vocabs = TaggerVocabs.fit(data.train, data.tag_names)
    config = TaggerConfig(vocab_size=len(vocabs.words), num_chars=len(vocabs.chars),
                          num_tags=len(vocabs.tags), **(model_options or {}))
    run = _TaggerRun(data, vocabs, config, train_config, seed=seed, unk_replace=unk_replace,
                     data_spec=data_spec or {"name": data.name}, out_dir=out_dir)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(part_seed(seed, "training"))
        run.open(resume=resume)
        run.train(progress=progress)
    return run.result()


class _TaggerRun:
    def __init__(self, data: TaggingDataset, vocabs: TaggerVocabs, config: TaggerConfig,
                 train_config: TrainConfig, *, seed: int, unk_replace: float,
                 data_spec: dict[str, Any], out_dir: str | os.PathLike[str] | None) -> None:
        self.data, self.vocabs, self.config, self.train_config = data, vocabs, config, train_config
        self.seed, self.unk_replace, self.data_spec = seed, unk_replace, data_spec
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.splits = {name: encode_tagging(getattr(data, name), vocabs, source=name)
                       for name in ("train", "valid", "test")}
        self.singletons = singleton_ids(data.train, vocabs)
        self.model = Tagger(config, seed=seed)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=train_config.lr,
                                          betas=train_config.betas, eps=train_config.eps,
                                          weight_decay=train_config.weight_decay)
        self.stopping = EarlyStopping(train_config.patience)
        self.history: list[EpochMetrics] = []
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stopped_early, self.resumed_from = False, 0

    def identity(self) -> dict[str, Any]:
        train = self.train_config.to_dict()
        del train["epochs"]  # a finished run may be continued for more epochs
        every = (*self.data.train, *self.data.valid, *self.data.test)
        return {"model_config": self.config.to_dict(), "train_config_without_epochs": train,
                "seed": self.seed, "unk_replace": self.unk_replace,
                "data_fingerprint": fingerprint(every)}

    def open(self, *, resume: bool) -> None:
        if self.out_dir is None:
            if resume:
                raise ValueError("resume=True needs out_dir (the run directory to continue)")
            return
        checkpoint = self.out_dir / CHECKPOINT
        if checkpoint.exists():
            if not resume:
                raise ValueError(f"--out {str(self.out_dir)!r} already holds a run "
                                 f"({CHECKPOINT}); pass --resume to continue it, or choose "
                                 f"another --out")
            self._restore(load_checkpoint(checkpoint))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.vocabs.words.save(self.out_dir / VOCAB)
        self.vocabs.chars.save(self.out_dir / CHARS)
        write_json(self.out_dir / CONFIG, {
            "model": self.config.to_dict(), "train": self.train_config.to_dict(),
            "seed": self.seed, "unk_replace": self.unk_replace, "data": self.data_spec,
            "tags": list(self.vocabs.tags)})

    def _restore(self, payload: dict[str, Any]) -> None:
        where = self.out_dir / CHECKPOINT
        if payload.get("format") != TAGGER_FORMAT:
            raise ValueError(f"{where} is not a tagger run (format {payload.get('format')!r}); "
                             f"choose another --out")
        for key, value in self.identity().items():
            if payload["identity"].get(key) != value:
                raise ValueError(f"cannot resume {self.out_dir}: its {key} differs from this "
                                 f"run's; resume with the same options, or choose another --out")
        if payload["epoch"] > self.train_config.epochs:
            raise ValueError(f"--epochs {self.train_config.epochs} but {where} already has "
                             f"{payload['epoch']} epochs; pass --epochs >= {payload['epoch']}")
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        restore_rng_state(payload["rng"])
        self.history = [EpochMetrics.from_dict(m) for m in payload["metrics"]]
        self.stopping = EarlyStopping.from_state_dict(payload["early_stopping"])
        self.best_state = payload["best_model"]
        self.stopped_early = bool(payload["stopped_early"])
        self.resumed_from = int(payload["epoch"])

    def train(self, *, progress: bool) -> None:
        show = progress_enabled(progress)
        for epoch in range(len(self.history) + 1, self.train_config.epochs + 1):
            if self.stopped_early:
                break
            metrics = self._epoch(epoch, show)
            self.history.append(metrics)
            if self.stopping.update(epoch, metrics.valid_loss) or not self.data.valid:
                self.best_state = {k: v.detach().clone()
                                   for k, v in self.model.state_dict().items()}
            self.stopped_early = self.stopping.should_stop and epoch < self.train_config.epochs
            if self.out_dir is not None:
                self._save(epoch)
            print(f"epoch {epoch}: train loss {metrics.train_loss:.4f}, valid accuracy "
                  f"{_fraction(metrics.valid_accuracy)}, test accuracy "
                  f"{_fraction(metrics.test_accuracy)} ({metrics.seconds:.0f} s)", flush=True)
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        self.model.eval()
        if self.out_dir is not None:
            self._write_metrics()
            write_report(self.out_dir, self.model, self.vocabs, self.data, "test",
                         self.train_config.eval_batch_size)

    def _epoch(self, epoch: int, show: bool) -> EpochMetrics:
        started = time.perf_counter()
        train, config = self.splits["train"], self.train_config
        batches = epoch_batches(train, config, data_seed=self.seed, epoch=epoch)
        dropout = WordDropout(self.singletons, self.unk_replace,
                              np.random.default_rng([self.seed, epoch, 1]))
        bar = EpochBar(batches, epoch=epoch, epochs=config.epochs, enabled=show, label="tag")
        self.model.train()
        total_loss, correct, tokens = 0.0, 0, 0
        for number, index in enumerate(bar, start=1):
            batch = train.batch(index, word_dropout=dropout)
            self.optimizer.zero_grad(set_to_none=True)
            emissions = self.model(batch["word_ids"], batch["char_ids"], batch["lengths"])
            loss = self.model.loss(emissions, batch["tag_ids"], batch["lengths"])
            if not math.isfinite(float(loss.detach())):
                bar.close()
                check_finite(float(loss.detach()), f"the training loss of batch {number} in epoch "
                             f"{epoch}", advice=classifier_advice(config.lr, config.clip_grad_norm))
            loss.backward()
            if config.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), config.clip_grad_norm)
            self.optimizer.step()
            count = int(batch["lengths"].sum())
            # Per-token argmax of the emissions (with a CRF: not its Viterbi path, which
            # costs a decode per batch; valid and test accuracies do decode).
            real = lengths_to_mask(batch["lengths"], emissions.shape[1])
            correct += int(((emissions.detach().argmax(-1) == batch["tag_ids"]) & real).sum())
            total_loss, tokens = total_loss + float(loss.detach()) * count, tokens + count
            bar.update_metrics(total_loss / tokens, correct / tokens)
        bar.close()
        scores = {name: evaluate_encoded(self.model, self.splits[name], config.eval_batch_size)
                  if len(self.splits[name]) else (None, None) for name in ("valid", "test")}
        return EpochMetrics(
            epoch=epoch, train_loss=total_loss / tokens, train_accuracy=correct / tokens,
            valid_loss=scores["valid"][0], valid_accuracy=scores["valid"][1],
            test_loss=scores["test"][0], test_accuracy=scores["test"][1],
            seconds=time.perf_counter() - started)

    def _save(self, epoch: int) -> None:
        assert self.out_dir is not None
        save_checkpoint(self.out_dir / CHECKPOINT, {
            "format": TAGGER_FORMAT, "epoch": epoch, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "rng": capture_rng_state(),
            "metrics": [m.to_dict() for m in self.history],
            "early_stopping": self.stopping.state_dict(), "best_model": self.best_state,
            "stopped_early": self.stopped_early, "identity": self.identity(),
            "model_config": self.config.to_dict(), "train_config": self.train_config.to_dict(),
            "vocabs": self.vocabs.to_dict(), "data_spec": self.data_spec,
            "unk_replace": self.unk_replace, "seed": self.seed})
        self._write_metrics()

    def _write_metrics(self) -> None:
        assert self.out_dir is not None
        payload: dict[str, Any] = {"epochs": [m.to_dict() for m in self.history]}
        if self.history:
            payload["final"] = {**self.result().final.to_dict(),
                                "best_epoch": self.stopping.best_epoch or len(self.history),
                                "stopped_early": self.stopped_early,
                                "epochs_run": len(self.history),
                                "seconds_total": sum(m.seconds or 0 for m in self.history)}
        write_json(self.out_dir / METRICS, payload)

    def result(self) -> TaggerRunResult:
        if not self.history:
            raise ValueError("the run has no epochs (epochs must be >= 1)")
        final_epoch = (self.stopping.best_epoch if self.data.valid and self.stopping.best_epoch
                       else len(self.history))
        return TaggerRunResult(self.model, self.vocabs, tuple(self.history),
                               self.history[final_epoch - 1], self.resumed_from, self.out_dir)


def _fraction(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f} %"
