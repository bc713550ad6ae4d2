"""A language-model run on disk: train with a checkpoint per epoch, resume, evaluate.

Load a finished run with :func:`rnnlab.train.load_run` (one loader for every kind of run).

Run directory::

    RUN_DIR/checkpoint.pt   after every epoch (atomic): model and optimizer state dicts, the
                            model/train configs, the corpus spec and vocabulary, the history
                            and the RNG state, so a resumed run continues to identical numbers
    RUN_DIR/history.json    the same history (and final scores), for people and scripts

The corpus itself is not stored: ``corpus_spec`` (a small dict from the caller, e.g. the CLI's
``{"corpus": "brown", "max_words": None}``) says how to load it again, and the stored
vocabulary is compared with the reloaded one so a changed corpus is an error, not a silent
mismatch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from rnnlab.data.lm import LMCorpus
from rnnlab.data.tbptt import TBPTTBatches
from rnnlab.models.language_model import LanguageModel, LanguageModelConfig
from rnnlab.train.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from rnnlab.train.lm_loop import LMTrainConfig, SplitScore, evaluate, run_epoch
from rnnlab.train.metrics import EpochMetrics
from rnnlab.train.run_files import CHECKPOINT, HISTORY, LM_CHECKPOINT_FORMAT, write_json

Log = Callable[[str], None]


@dataclass(frozen=True)
class LMRunResult:
    """What a finished (or resumed-and-finished) run reports."""

    history: tuple[EpochMetrics, ...]
    valid: SplitScore
    test: SplitScore
    checkpoint: Path


def load_corpus(spec: dict[str, Any]) -> LMCorpus:
    """The corpus a run's ``corpus_spec`` names: ``{"corpus", "brown_path", "max_words"}``.

    ``corpus`` is ``"brown"`` (Bengio et al. 2003's split, from ``brown_path`` or the usual
    places) or a folder of PTB-format files; ``max_words`` keeps the first N training tokens
    (valid and test stay whole).
    """
    from rnnlab.data import load_brown_lm, read_ptb

    if spec["corpus"] == "brown":
        corpus = load_brown_lm(spec.get("brown_path"))
    else:
        corpus = read_ptb(spec["corpus"])
    if spec.get("max_words") is not None:
        if spec["max_words"] < 2:
            raise ValueError(f"--max-words must be >= 2, got {spec['max_words']}")
        corpus = LMCorpus(corpus.train[: spec["max_words"]], corpus.valid, corpus.test,
                          corpus.vocab)
    return corpus


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
) -> dict[str, Any]:
    """Everything a resume or an evaluation needs; tensors, numbers and strings only."""
    return {
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


def _write_history(run_dir: Path, history: list[EpochMetrics], final: dict | None) -> None:
    epochs = [record.to_dict() for record in history]
    write_json(run_dir / HISTORY, {"epochs": epochs, "final": final})


def _check_resumable(
    saved: dict[str, Any],
    model_config: LanguageModelConfig,
    train_config: LMTrainConfig,
    corpus: LMCorpus,
    spec: dict[str, Any],
) -> None:
    if saved.get("format") != LM_CHECKPOINT_FORMAT:
        raise CheckpointError(f"not an rnnlab LM checkpoint (format {saved.get('format')!r})")
    if saved["model_config"] != asdict(model_config):
        raise ValueError(
            f"--resume: the model config differs from the run's: saved {saved['model_config']}, "
            f"now {asdict(model_config)}"
        )
    # The number of epochs may grow on resume; everything else must match.
    saved_train = {k: v for k, v in saved["train_config"].items() if k != "epochs"}
    now_train = {k: v for k, v in train_config.to_dict().items() if k != "epochs"}
    if saved_train != now_train:
        raise ValueError(f"--resume: the training config differs: saved {saved_train}, "
                         f"now {now_train}")
    if saved["vocab"]["tokens"] != list(corpus.vocab.tokens) or saved["corpus_spec"] != spec:
        raise ValueError(f"--resume: the corpus differs from the run's ({saved['corpus_spec']})")


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
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run_dir={str(run_dir)!r} is a file, not a directory")
    check_scorable(corpus, train_config.eval_batch_size, train_config.bptt)
    spec = dict(corpus_spec or {})
    checkpoint = run_dir / CHECKPOINT
    if checkpoint.exists() and not resume:
        raise ValueError(f"{checkpoint} exists; pass resume=True (--resume) or a new run dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_config.seed)
        model = LanguageModel(model_config)
        optimizer = torch.optim.SGD(model.parameters(), lr=train_config.learning_rate)
        history: list[EpochMetrics] = []
        if resume and checkpoint.exists():
            saved = load_checkpoint(checkpoint)
            _check_resumable(saved, model_config, train_config, corpus, spec)
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            history = [EpochMetrics.from_dict(record) for record in saved["history"]]
            restore_rng_state(saved["rng"])
            log(f"resuming {run_dir} after epoch {saved['epoch']}")
        batches = TBPTTBatches.from_ids(corpus.train, train_config.batch_size, train_config.bptt)
        valid_ids = _as_ids(corpus.valid)
        for epoch in range(len(history) + 1, train_config.epochs + 1):
            record = run_epoch(
                model, batches, valid_ids, optimizer, train_config, epoch, progress=progress
            )
            history.append(record)
            save_checkpoint(
                checkpoint,
                _payload(model, optimizer, model_config, train_config, corpus, spec, epoch,
                         history),
            )  # fmt: skip
            _write_history(run_dir, history, None)
            log(
                f"epoch {epoch}/{train_config.epochs}  lr {record.learning_rate:.4g}  "
                f"train ppl {record.train_perplexity:.2f}  valid ppl "
                f"{record.valid_perplexity:.2f}  ({record.seconds:.0f} s)"
            )
        valid, test = score_splits(model, corpus, train_config.eval_batch_size, train_config.bptt)
    final = {"valid_perplexity": valid.perplexity, "test_perplexity": test.perplexity}
    _write_history(run_dir, history, final)
    log(f"final: valid ppl {valid.perplexity:.2f}  test ppl {test.perplexity:.2f}")
    return LMRunResult(tuple(history), valid, test, checkpoint)


def score_splits(
    model: LanguageModel, corpus: LMCorpus, batch_size: int, bptt: int
) -> tuple[SplitScore, SplitScore]:
    """Valid and test scores of ``model`` (eval mode, state carried through each split)."""
    valid = evaluate(model, _as_ids(corpus.valid), batch_size, bptt)
    test = evaluate(model, _as_ids(corpus.test), batch_size, bptt)
    return valid, test
