"""A language-model run on disk: train with a checkpoint per epoch, resume, evaluate.

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

import json
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
from rnnlab.train.lm_loop import EpochRecord, LMTrainConfig, SplitScore, evaluate, run_epoch

CHECKPOINT = "checkpoint.pt"
HISTORY = "history.json"
FORMAT = "rnnlab.lm/1"

Log = Callable[[str], None]


@dataclass(frozen=True)
class LMRunResult:
    """What a finished (or resumed-and-finished) run reports."""

    history: tuple[dict[str, Any], ...]
    valid: SplitScore
    test: SplitScore
    checkpoint: Path


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
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    """Everything a resume or an evaluation needs; tensors, numbers and strings only."""
    return {
        "format": FORMAT,
        "model_config": asdict(model_config),
        "train_config": train_config.to_dict(),
        "corpus_spec": spec,
        "vocab": corpus.vocab.to_dict(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "history": list(history),
        "rng": capture_rng_state(),
    }


def _write_history(run_dir: Path, history: list[dict[str, Any]], final: dict | None) -> None:
    path = run_dir / HISTORY
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"epochs": history, "final": final}, indent=2))
    os.replace(temporary, path)


def _check_resumable(
    saved: dict[str, Any],
    model_config: LanguageModelConfig,
    train_config: LMTrainConfig,
    corpus: LMCorpus,
    spec: dict[str, Any],
) -> None:
    if saved.get("format") != FORMAT:
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
    RNG, so the caller's global RNG state is left as it was.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = dict(corpus_spec or {})
    checkpoint = run_dir / CHECKPOINT
    if checkpoint.exists() and not resume:
        raise ValueError(f"{checkpoint} exists; pass resume=True (--resume) or a new run dir")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_config.seed)
        model = LanguageModel(model_config)
        optimizer = torch.optim.SGD(model.parameters(), lr=train_config.learning_rate)
        history: list[dict[str, Any]] = []
        if resume and checkpoint.exists():
            saved = load_checkpoint(checkpoint)
            _check_resumable(saved, model_config, train_config, corpus, spec)
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            history = list(saved["history"])
            restore_rng_state(saved["rng"])
            log(f"resuming {run_dir} after epoch {saved['epoch']}")
        batches = TBPTTBatches.from_ids(corpus.train, train_config.batch_size, train_config.bptt)
        valid_ids = _as_ids(corpus.valid)
        for epoch in range(len(history) + 1, train_config.epochs + 1):
            record: EpochRecord = run_epoch(
                model, batches, valid_ids, optimizer, train_config, epoch, progress=progress
            )
            history.append(record.to_dict())
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


@dataclass(frozen=True)
class LoadedRun:
    """A run's checkpoint, rebuilt: the model (eval mode) and what it was trained with."""

    model: LanguageModel
    train_config: LMTrainConfig
    corpus_spec: dict[str, Any]
    vocab_tokens: tuple[str, ...]
    history: tuple[dict[str, Any], ...]


def load_run(run_dir: str | os.PathLike[str]) -> LoadedRun:
    """Rebuild the model of ``RUN_DIR/checkpoint.pt``."""
    saved = load_checkpoint(Path(run_dir) / CHECKPOINT)
    if saved.get("format") != FORMAT:
        raise CheckpointError(f"{run_dir} does not hold an rnnlab LM checkpoint")
    model = LanguageModel(LanguageModelConfig(**saved["model_config"]))
    model.load_state_dict(saved["model"])
    model.eval()
    return LoadedRun(
        model=model,
        train_config=LMTrainConfig(**saved["train_config"]),
        corpus_spec=dict(saved["corpus_spec"]),
        vocab_tokens=tuple(saved["vocab"]["tokens"]),
        history=tuple(saved["history"]),
    )
