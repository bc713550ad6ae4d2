"""A language-model run on disk: train with a checkpoint per epoch, resume, evaluate.

Load a finished run with :func:`rnnlab.train.load_run` (one loader for every kind of run).

Run directory::

    RUN_DIR/checkpoint.pt   after every epoch (atomic): model and optimizer state dicts, the
                            model/train configs, the corpus spec and vocabulary, the history
                            and the RNG state, so a resumed run continues to identical numbers
    RUN_DIR/history.json    the same history (and final scores), for people and scripts

With NT-ASGD (:mod:`rnnlab.train.asgd`) once triggered, ``model`` in the checkpoint is the
averaged weights (what evaluation, export and the audit load), ``iterate`` the SGD weights a
resume continues from, and ``nt_asgd`` the trigger epoch and the running mean with its count.

The corpus itself is not stored: ``corpus_spec`` (a small dict from the caller, e.g. the CLI's
``{"corpus": "brown", "max_words": None}``) says how to load it again, and the stored
vocabulary is compared with the reloaded one so a changed corpus is an error, not a silent
mismatch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from rnnlab.data.lm import LMCorpus
from rnnlab.data.lm_sources import load_corpus  # noqa: F401 - moved to data; old import path
from rnnlab.data.tbptt import TBPTTBatches
from rnnlab.models import part_seed
from rnnlab.models.language_model import LanguageModel, LanguageModelConfig
from rnnlab.train.asgd import ParameterAverage, should_trigger
from rnnlab.train.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from rnnlab.train.distributed import SINGLE, ReplicatedLM, World, current_world
from rnnlab.train.lm_loop import LMTrainConfig, SplitScore, evaluate, run_epoch
from rnnlab.train.metrics import EpochMetrics
from rnnlab.train.run_files import CHECKPOINT, HISTORY, LM_CHECKPOINT_FORMAT, write_json
from rnnlab.train.run_lock import run_lock
from rnnlab.train.shards import lm_train_slice

Log = Callable[[str], None]


@dataclass(frozen=True)
class LMRunResult:
    """What a finished (or resumed-and-finished) run reports."""

    history: tuple[EpochMetrics, ...]
    valid: SplitScore
    test: SplitScore
    checkpoint: Path


def check_scorable(corpus: LMCorpus, batch_size: int, bptt: int) -> None:
    """Raise a ValueError unless valid and test each fill ``batch_size`` streams of at least
    one input and its target, so a run is refused before training, not after."""
    for name in ("valid", "test"):
        ids = getattr(corpus, name)
        try:
            TBPTTBatches.from_ids(ids, batch_size, bptt)
        except ValueError as error:
            raise ValueError(
                f"the {name} split has {len(ids)} token(s), too few for eval_batch_size="
                f"{batch_size} (--eval-batch-size): {error}") from None


def _as_ids(array: Any) -> torch.Tensor:
    return torch.as_tensor(array, dtype=torch.long)


def _payload(
    model: LanguageModel,
    optimizer: torch.optim.Optimizer,
    model_config: LanguageModelConfig,
    train_config: LMTrainConfig,
    corpus: LMCorpus,
    spec: dict[str, Any],
    epoch: int,
    history: list[EpochMetrics],
    averaging: _Averaging,
) -> dict[str, Any]:
    """Everything a resume or an evaluation needs; tensors, numbers and strings only."""
    payload = {
        "format": LM_CHECKPOINT_FORMAT,
        "model_config": asdict(model_config),
        "train_config": train_config.to_dict(),
        "corpus_spec": spec,
        "vocab": corpus.vocab.to_dict(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "history": [record.to_dict() for record in history],
        "rng": capture_rng_state(),
    }
    if averaging.average is not None:
        with averaging.average.swapped_in(model):
            payload["model"] = {k: v.clone() for k, v in model.state_dict().items()}
        payload["iterate"] = model.state_dict()
        payload["nt_asgd"] = {"trigger_epoch": averaging.trigger_epoch,
                              **averaging.average.state_dict()}
    return payload


@dataclass
class _Averaging:
    """NT-ASGD's state in a run: the epoch that triggered it and the running mean."""

    trigger_epoch: int | None = None
    average: ParameterAverage | None = None

    def after_epoch(self, model: LanguageModel, config: LMTrainConfig,
                    history: list[EpochMetrics], log: Log) -> None:
        """Start averaging if this epoch's valid score triggers it (Algorithm 1)."""
        if not config.nt_asgd or self.average is not None:
            return
        scores = [record.valid_perplexity for record in history]
        if should_trigger(scores[:-1], scores[-1], config.nonmono):
            self.trigger_epoch, self.average = len(history), ParameterAverage(model)
            log(f"NT-ASGD: valid {scores[-1]:.2f} is worse than the best of more than "
                f"{config.nonmono} epochs back; averaging from epoch {len(history) + 1} on")

    @classmethod
    def restore(cls, model: LanguageModel, saved: dict[str, Any]) -> _Averaging:
        state = saved.get("nt_asgd")
        if state is None:
            return cls()
        average = ParameterAverage(model)
        average.load_state_dict(state)
        return cls(int(state["trigger_epoch"]), average)


def _write_history(run_dir: Path, history: list[EpochMetrics], final: dict | None,
                   trigger_epoch: int | None = None) -> None:
    """``nt_asgd_trigger_epoch``: averaging began after it (valid scores of later epochs are
    the average's); None when it has not."""
    epochs = [record.to_dict() for record in history]
    write_json(run_dir / HISTORY, {"epochs": epochs, "final": final,
                                   "nt_asgd_trigger_epoch": trigger_epoch})


def _check_resumable(
    saved: dict[str, Any],
    model_config: LanguageModelConfig,
    train_config: LMTrainConfig,
    corpus: LMCorpus,
    spec: dict[str, Any],
    world: World = SINGLE,
) -> None:
    if saved.get("format") != LM_CHECKPOINT_FORMAT:
        raise CheckpointError(f"not an rnnlab LM checkpoint (format {saved.get('format')!r})")
    # (fields added since a run was saved take their defaults: the behaviour it was run with)
    saved_model = {**_defaults(LanguageModelConfig), **saved["model_config"]}
    if saved_model != asdict(model_config):
        raise ValueError(
            f"--resume: the model config differs from the run's: saved {saved_model}, "
            f"now {asdict(model_config)}"
        )
    # The number of epochs may grow on resume; everything else must match.
    saved_train = {k: v for k, v in {**_defaults(LMTrainConfig), **saved["train_config"]}.items()
                   if k != "epochs"}
    now_train = {k: v for k, v in train_config.to_dict().items() if k != "epochs"}
    if saved_train != now_train:
        raise ValueError(f"--resume: the training config differs: saved {saved_train}, "
                         f"now {now_train}")
    if saved["vocab"]["tokens"] != list(corpus.vocab.tokens) or saved["corpus_spec"] != spec:
        raise ValueError(f"--resume: the corpus differs from the run's ({saved['corpus_spec']})")
    if int(saved.get("world_size", 1)) != world.size:
        raise ValueError(f"--resume: the run was trained by {saved.get('world_size', 1)} "
                         f"process(es), this is {world.size}; resume it with torchrun "
                         f"--nproc-per-node {saved.get('world_size', 1)} (or without torchrun "
                         "for 1)")


def _defaults(config_class: type) -> dict[str, Any]:
    return {field.name: field.default for field in fields(config_class)
            if field.default is not MISSING}


def train_language_model(
    corpus: LMCorpus,
    model_config: LanguageModelConfig,
    train_config: LMTrainConfig,
    run_dir: str | os.PathLike[str],
    *,
    corpus_spec: dict[str, Any] | None = None,
    resume: bool = False,
    progress: bool = True,
    log: Log = print,
) -> LMRunResult:
    """Train (or resume) to ``train_config.epochs``, checkpointing after every epoch, then
    score the final model on valid and test.

    Randomness (initial weights, dropout) comes from ``train_config.seed`` inside a forked
    RNG, so the caller's global RNG state is left as it was. A corpus whose valid or test
    split cannot be scored is refused before training (:func:`check_scorable`); a loss that
    becomes NaN or infinite raises :class:`~rnnlab.train.divergence.TrainingDivergedError`.

    In a torchrun process group (:mod:`rnnlab.train.distributed`) every rank calls this with
    the same arguments: ``batch_size`` streams per rank on its own slice of the stream; rank
    0 alone holds the run directory's lock (:mod:`rnnlab.train.run_lock`), writes it and logs.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run_dir={str(run_dir)!r} is a file, not a directory")
    check_scorable(corpus, train_config.eval_batch_size, train_config.bptt)
    world = current_world()
    train_ids = lm_train_slice(corpus.train, train_config.batch_size, world)
    checkpoint = run_dir / CHECKPOINT

    def lock_and_read() -> dict[str, Any] | None:
        held.enter_context(run_lock(run_dir, "--out"))
        if checkpoint.exists() and not resume:
            raise ValueError(f"{checkpoint} exists; pass resume=True (--resume) or a new run dir")
        return load_checkpoint(checkpoint) if checkpoint.exists() else None

    with ExitStack() as held:
        saved = world.on_main(lock_and_read)
        return _train(corpus, train_ids, model_config, train_config, run_dir,
                      dict(corpus_spec or {}), saved, world=world, progress=progress,
                      log=log if world.is_main else lambda _: None)


def _train(
    corpus: LMCorpus,
    train_ids: Any,
    model_config: LanguageModelConfig,
    train_config: LMTrainConfig,
    run_dir: Path,
    spec: dict[str, Any],
    saved: dict[str, Any] | None,
    *,
    world: World,
    progress: bool,
    log: Log,
) -> LMRunResult:
    checkpoint = run_dir / CHECKPOINT
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_config.seed)
        model = LanguageModel(model_config)
        if not world.is_main:  # the same initial weights, but dropout masks of its own
            torch.manual_seed(part_seed(train_config.seed, f"lm/rank{world.rank}"))
        optimizer = torch.optim.SGD(model.parameters(), lr=train_config.learning_rate,
                                    weight_decay=train_config.weight_decay)
        trainer = None if world.size == 1 else ReplicatedLM(model, world)
        history: list[EpochMetrics] = []
        averaging = _Averaging()
        if saved is not None:
            _check_resumable(saved, model_config, train_config, corpus, spec, world)
            model.load_state_dict(saved.get("iterate", saved["model"]))
            optimizer.load_state_dict(saved["optimizer"])
            averaging = _Averaging.restore(model, saved)
            history = [EpochMetrics.from_dict(record) for record in saved["history"]]
            restore_rng_state(saved["rng"] if world.is_main
                              else saved["rank_rng"][world.rank - 1])
            log(f"resuming {run_dir} after epoch {saved['epoch']}")
        batches = TBPTTBatches.from_ids(train_ids, train_config.batch_size, train_config.bptt)
        valid_ids = _as_ids(corpus.valid[: train_config.max_eval_tokens])  # None: all
        for epoch in range(len(history) + 1, train_config.epochs + 1):
            record = run_epoch(
                model, batches, valid_ids, optimizer, train_config, epoch,
                progress=progress and world.is_main, world=world, trainer=trainer,
                average=averaging.average,
            )  # fmt: skip
            history.append(record)
            averaged = " (averaged)" if averaging.average is not None else ""
            averaging.after_epoch(model, train_config, history, log)
            rng = world.gather(capture_rng_state())  # every rank's, for an exact resume
            if world.is_main:
                payload = _payload(model, optimizer, model_config, train_config, corpus, spec,
                                   epoch, history, averaging)
                save_checkpoint(checkpoint, {**payload, "rank_rng": rng[1:],
                                             "world_size": world.size})
                _write_history(run_dir, history, None, averaging.trigger_epoch)
            log(
                f"epoch {epoch}/{train_config.epochs}  lr {record.learning_rate:.4g}  "
                f"train ppl {record.train_perplexity:.2f}  valid ppl "
                f"{record.valid_perplexity:.2f}{averaged}  ({record.seconds:.0f} s)"
            )
        with (averaging.average.swapped_in(model) if averaging.average is not None
              else nullcontext()):
            valid, test = score_splits(model, corpus, train_config.eval_batch_size,
                                       train_config.bptt, world=world,
                                       progress=progress and world.is_main)
    final = {"valid_perplexity": valid.perplexity, "test_perplexity": test.perplexity}
    if world.is_main:
        _write_history(run_dir, history, final, averaging.trigger_epoch)
    log(f"final: valid ppl {valid.perplexity:.2f}  test ppl {test.perplexity:.2f}")
    return LMRunResult(tuple(history), valid, test, checkpoint)


def score_splits(
    model: LanguageModel, corpus: LMCorpus, batch_size: int, bptt: int, *,
    world: World = SINGLE, progress: bool = False,
) -> tuple[SplitScore, SplitScore]:
    """Valid and test scores of ``model`` (eval mode, state carried through each split);
    ``progress`` shows a bar per split on a terminal."""
    valid = evaluate(model, _as_ids(corpus.valid), batch_size, bptt, world=world,
                     progress=progress, description="score valid")
    test = evaluate(model, _as_ids(corpus.test), batch_size, bptt, world=world,
                    progress=progress, description="score test")
    return valid, test
