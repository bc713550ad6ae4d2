"""Seed 000's bidirectional next-word model as a run: checkpointed, resumable, audited.

    from rnnlab.diagnostics.nextword_leaks import audit_for_training

    run = train_nextword_run(NextWordDataConfig("imdb-short"),
                             BidirectionalLMConfig(vocab_size=5_000, softmax="adaptive"),
                             NextWordTrainConfig(epochs=8), "runs/bilm",
                             audit=audit_for_training)
    run = load_nextword_run("runs/bilm")        # NextWordRun: model, vocab, config, metrics

Run directory (the files of the other runs, :mod:`rnnlab.train.run_files`)::

    RUN_DIR/checkpoint.pt         after every epoch (atomic, SHA-256 beside it): model and
                                  optimizer state dicts, the configs, the vocabulary, the
                                  history, the RNG states (weights, dropout, batch order);
                                  after the last epoch also the leak audit's verdict
    RUN_DIR/checkpoint.pt.sha256
    RUN_DIR/config.json           {"format", "variant", "model", "train", "data"}
    RUN_DIR/vocab.json            the vocabulary: <pad> <unk> <s> </s>, then by frequency
    RUN_DIR/metrics.json          {"epochs": [per-direction valid accuracy, perplexity ...],
                                   "final": {... "leak_audit": {"passed", "flag", ...}}}
    RUN_DIR/leak_audit.json       the full leak report (dependency matrices)

The texts are not stored: the data config names them and a resume reloads them; the refitted
vocabulary must equal the saved one. Validation is a held-out part of the *training* texts
(:mod:`rnnlab.data.nextword_sources`): an IMDB test review is never read.

Randomness: initial weights and dropout from ``seed`` inside a forked global RNG (the
caller's is left alone), the batch order from a ``torch.Generator`` seeded with it; the
checkpoint holds both states, so a run killed and resumed ends with the same weights, bit for
bit (same machine, same thread count), as one that was never stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

from rnnlab._config import check_known_keys, check_positive_ints
from rnnlab.data.nextword_sources import NextWordDataConfig, load_nextword_texts, resolved
from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from rnnlab.train.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from rnnlab.train.divergence import check_finite
from rnnlab.train.lm_nextword import (
    VARIANTS,
    NextWordData,
    encode_reviews,
    epoch_batches,
    next_word_vocab,
)
from rnnlab.train.nextword_eval import evaluate_directions, run_loss
from rnnlab.train.nextword_files import (
    NEXTWORD_FORMAT,
    NextWordRun,
    config_record,
    load_nextword_run,
    variant_of,
    write_run_files,
)
from rnnlab.train.progress import progress_enabled
from rnnlab.train.run_files import CHECKPOINT, write_json
from rnnlab.train.run_lock import run_lock

if TYPE_CHECKING:
    from rnnlab.diagnostics.leak_report import LeakReport

__all__ = ["NextWordRun", "NextWordRunResult", "NextWordTrainConfig", "load_nextword_run",
           "model_config_for", "train_nextword_run"]

Log = Callable[[str], None]
OnEpoch = Callable[[dict[str, Any]], None]
# The leak audit of the trained model: (its full report, the verdict record kept in
# metrics.json). It lives in rnnlab.diagnostics, which reads runs and so sits above this
# package: the caller (the CLI) hands it in rather than training importing it.
Audit = Callable[[BidirectionalLM], "tuple[LeakReport, dict[str, Any]]"]


@dataclass(frozen=True)
class NextWordTrainConfig:
    """How the model trains (defaults: the seed-000 run in benchmarks/RESULTS.md)."""

    epochs: int = 8  # the seed trained ~35 epochs (early stopping) on the full IMDB
    batch_size: int = 16  # texts per batch: more updates on a small corpus
    learning_rate: float = 3e-3  # Adam, as the seed's Keras model
    max_grad_norm: float = 5.0  # clip the global gradient norm
    seed: int = 0  # initial weights, dropout and batch order
    eval_batch_size: int = 64  # texts per batch when scoring the valid split
    # >1 batches texts of similar length together (pools of this many batches sorted by
    # length): ~3x less padding on IMDB. 1 = a plain shuffle, which runs saved before the
    # option existed keep, so their resumes stay bit-identical.
    bucket_pool_batches: int = 1

    def __post_init__(self) -> None:
        check_positive_ints(self, ("epochs", "batch_size", "eval_batch_size",
                                   "bucket_pool_batches"))
        if not self.learning_rate > 0 or not self.max_grad_norm > 0:
            raise ValueError(f"learning_rate and max_grad_norm must be > 0, got "
                             f"{self.learning_rate}, {self.max_grad_norm}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NextWordTrainConfig:
        check_known_keys(data, cls, "NextWordTrainConfig key")
        return cls(**data)


@dataclass(frozen=True, eq=False)
class NextWordRunResult:
    """What a finished (or resumed and finished) run ends with."""

    run: NextWordRun  # as load_nextword_run(run_dir) would give it
    resumed_from: int  # epochs restored from the checkpoint (0: trained from scratch)
    seconds: float  # wall time of this call, loading and audit included
    # the full report behind metrics["final"]["leak_audit"]; None if no audit was given
    leak_report: LeakReport | None


def model_config_for(variant: str, vocab_size: int, **settings: Any) -> BidirectionalLMConfig:
    """The model of a variant ("fixed", "leaky", "leaky-lstm1"); ``settings`` are the other
    :class:`BidirectionalLMConfig` fields."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    return BidirectionalLMConfig(vocab_size=vocab_size, **settings, **VARIANTS[variant])


def train_nextword_run(
    data: NextWordDataConfig,
    model: BidirectionalLMConfig,
    train: NextWordTrainConfig,
    run_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    progress: bool = True,
    log: Log = print,
    on_epoch: OnEpoch | None = None,
    audit: Audit | None = None,
) -> NextWordRunResult:
    """Train (or resume) to ``train.epochs``, checkpointing after every epoch, then audit.

    ``audit``: the leak audit of the trained model,
    :func:`rnnlab.diagnostics.nextword_leaks.audit_for_training` (what ``rnnlab lm nextword
    --out`` runs); None records ``"leak_audit": None``.

    ``model.vocab_size`` becomes the size of the vocabulary fitted on the training texts (at
    most ``data.vocab_size``). Without ``resume`` an existing checkpoint is an error; with it
    the run continues (``train.epochs`` may grow; everything else must match). ``on_epoch``
    is called with each epoch's record after its checkpoint is written.
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run_dir={str(run_dir)!r} (--out) is a file, not a directory")
    data = resolved(data)
    with ExitStack() as held:
        # building models (the loaded one too) draws from the global RNG: leave the caller's
        held.enter_context(torch.random.fork_rng(devices=[]))
        held.enter_context(run_lock(run_dir, "--out"))
        saved = _read_saved(run_dir, resume)
        texts = load_nextword_texts(data)
        vocab = next_word_vocab(texts.train, data.vocab_size)
        model = _sized(model, len(vocab))
        if saved is not None:
            _check_resumable(saved, data, model, train, vocab.tokens, run_dir)
        train_data = encode_reviews(texts.train, vocab, data.max_tokens)
        valid_data = encode_reviews(texts.valid, vocab, data.max_tokens)
        log(f"{texts.summary()}; vocab {len(vocab):,}; variant {variant_of(model)}, "
            f"{model.softmax} softmax")
        record = config_record(model, train.to_dict(), data.to_dict())
        write_run_files(run_dir, record, vocab)
        network, history, payload = _train_epochs(
            model, train, train_data, valid_data, run_dir, saved, record, vocab.to_dict(),
            progress=progress, log=log, on_epoch=on_epoch)
        report, final = _final(network, history, audit)
        save_checkpoint(run_dir / CHECKPOINT, {**payload, "final": final})
        write_json(run_dir / "metrics.json", {"epochs": history, "final": final})
        if report is not None:
            write_json(run_dir / "leak_audit.json", report.to_dict())
        run = load_nextword_run(run_dir)
    return NextWordRunResult(run, 0 if saved is None else int(saved["epoch"]),
                             time.perf_counter() - started, report)


def _sized(model: BidirectionalLMConfig, vocab_size: int) -> BidirectionalLMConfig:
    try:
        return replace(model, vocab_size=vocab_size)
    except ValueError as error:
        raise ValueError(f"the training texts give a vocabulary of {vocab_size} ids: "
                         f"{error}") from None


def _read_saved(run_dir: Path, resume: bool) -> dict[str, Any] | None:
    checkpoint = run_dir / CHECKPOINT
    if not checkpoint.exists():
        return None
    if not resume:
        raise ValueError(f"--out {str(run_dir)!r} already holds a run ({CHECKPOINT}); pass "
                         "--resume (resume=True) to continue it, or choose another --out")
    return load_checkpoint(checkpoint)


def _check_resumable(saved: dict[str, Any], data: NextWordDataConfig,
                     model: BidirectionalLMConfig, train: NextWordTrainConfig,
                     tokens: tuple[str, ...], run_dir: Path) -> None:
    if saved.get("format") != NEXTWORD_FORMAT:
        raise ValueError(f"--resume: {run_dir / CHECKPOINT} is not a next-word run (format "
                         f"{saved.get('format')!r}); choose another --out")
    now_train = {k: v for k, v in train.to_dict().items() if k != "epochs"}
    # through from_dict: a run saved before a field existed compares as its default
    saved_train = {k: v for k, v in
                   NextWordTrainConfig.from_dict(saved["train_config"]).to_dict().items()
                   if k != "epochs"}
    for what, before, now in (("model config", saved["model_config"], model.to_dict()),
                              ("training config (epochs aside)", saved_train, now_train),
                              ("data config", saved["data_config"], data.to_dict())):
        if before != now:
            changed = sorted(k for k in {**before, **now} if before.get(k) != now.get(k))
            raise ValueError(f"--resume: the {what} differs from the run's in {changed}: saved "
                             f"{ {k: before.get(k) for k in changed} }, now "
                             f"{ {k: now.get(k) for k in changed} }; use the run's settings "
                             "(see its config.json) or another --out")
    if saved["vocab"]["tokens"] != list(tokens):
        raise ValueError(f"--resume: the texts of data={data.data!r} no longer give the run's "
                         "vocabulary (they changed since it was trained); use another --out")
    if int(saved["epoch"]) > train.epochs:
        raise ValueError(f"--epochs {train.epochs} but {run_dir} already has "
                         f"{saved['epoch']} epochs; pass --epochs >= {saved['epoch']}")


def _train_epochs(
    config: BidirectionalLMConfig, train: NextWordTrainConfig, train_data: NextWordData,
    valid_data: NextWordData, run_dir: Path, saved: dict[str, Any] | None,
    record: dict[str, Any], vocab: dict[str, Any], *, progress: bool, log: Log,
    on_epoch: OnEpoch | None,
) -> tuple[BidirectionalLM, list[dict[str, Any]], dict[str, Any]]:
    """The epoch loop; returns the model, the history and the last checkpoint's payload."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train.seed)
        model = BidirectionalLM(config)
        optimizer = torch.optim.Adam(model.parameters(), lr=train.learning_rate)
        batch_order = torch.Generator().manual_seed(train.seed)
        history: list[dict[str, Any]] = []
        payload: dict[str, Any] = {}
        if saved is not None:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            restore_rng_state(saved["rng"], {"batches": batch_order})
            history = list(saved["history"])
            payload = {k: v for k, v in saved.items() if k != "final"}
            log(f"resuming {run_dir} after epoch {saved['epoch']}")
        for epoch in range(len(history) + 1, train.epochs + 1):
            row = _epoch(model, optimizer, batch_order, train, train_data, valid_data, epoch,
                         progress)
            history.append(row)
            payload = {
                "format": NEXTWORD_FORMAT, "variant": record["variant"],
                "model_config": config.to_dict(), "train_config": train.to_dict(),
                "data_config": record["data"], "vocab": vocab,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": epoch, "history": history,
                "rng": capture_rng_state({"batches": batch_order}), "final": None,
            }
            save_checkpoint(run_dir / CHECKPOINT, payload)
            write_json(run_dir / "metrics.json", {"epochs": history, "final": None})
            log(epoch_line(row, train.epochs))
            if on_epoch is not None:
                on_epoch(row)
    model.eval()
    return model, history, payload


def _epoch(model: BidirectionalLM, optimizer: torch.optim.Optimizer,
           batch_order: torch.Generator, train: NextWordTrainConfig, train_data: NextWordData,
           valid_data: NextWordData, epoch: int, progress: bool) -> dict[str, Any]:
    started, total, count = time.perf_counter(), 0.0, 0
    model.train()
    batches = epoch_batches(train_data, train.batch_size, train.bucket_pool_batches,
                            batch_order)
    for ids, lengths in tqdm(batches, desc=f"epoch {epoch}/{train.epochs}", leave=False,
                             disable=not progress_enabled(progress)):
        loss = run_loss(model, ids, lengths)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train.max_grad_norm)
        optimizer.step()
        total, count = total + float(loss.detach()), count + 1
    check_finite(total / count, f"the training loss of epoch {epoch}",
                 advice=f"with learning rate {train.learning_rate:g} and the gradient norm "
                        f"clipped to {train.max_grad_norm:g}, lower --learning-rate")
    scores = evaluate_directions(model, valid_data, train.eval_batch_size)
    row: dict[str, Any] = {"epoch": epoch, "train_loss": total / count}
    for name, score in scores.items():
        row |= {f"{name}_accuracy": score.accuracy, f"{name}_perplexity": score.perplexity,
                f"{name}_loss": score.loss}
    return row | {"valid_tokens": scores["forward"].tokens,
                  "seconds": time.perf_counter() - started}


def epoch_line(row: dict[str, Any], epochs: int) -> str:
    """``epoch 2/8: loss 9.123  valid forward acc 17.20 % ppl 312.4 | backward ...``."""
    return (f"epoch {row['epoch']}/{epochs}: loss {row['train_loss']:.3f}  valid next-word "
            f"forward acc {row['forward_accuracy']:.2%} ppl {row['forward_perplexity']:.1f} | "
            f"backward acc {row['backward_accuracy']:.2%} ppl {row['backward_perplexity']:.1f}"
            f"  ({row['seconds']:.0f} s)")


def _final(
    model: BidirectionalLM, history: list[dict[str, Any]], audit: Audit | None
) -> tuple[LeakReport | None, dict[str, Any]]:
    """The last epoch's scores, the totals, and the leak audit's verdict (or None)."""
    report, verdict = audit(model) if audit is not None else (None, None)
    last = history[-1]
    final = {key: last[key] for key in last if key not in ("seconds", "train_loss")}
    final |= {"epochs_run": len(history),
              "train_seconds": sum(row["seconds"] for row in history),
              "leak_audit": verdict}
    return report, final


def summary_lines(result: NextWordRunResult) -> list[str]:
    """The per-epoch table, the run, and last the leak audit's verdict (flagged if leaky)."""
    run, final = result.run, result.run.metrics["final"]
    lines = ["| epoch | train loss | forward acc | forward ppl | backward acc | backward ppl "
             "| seconds |", "|---|---|---|---|---|---|---|"]
    for row in run.metrics["epochs"]:
        lines.append(f"| {row['epoch']} | {row['train_loss']:.3f} | "
                     f"{row['forward_accuracy']:.2%} | {row['forward_perplexity']:.1f} | "
                     f"{row['backward_accuracy']:.2%} | {row['backward_perplexity']:.1f} | "
                     f"{row['seconds']:.0f} |")
    config = run.model.config
    lines.append(f"run: {run.run_dir}  variant {run.variant}, {config.softmax} softmax, vocab "
                 f"{config.vocab_size:,}, {final['epochs_run']} epoch(s), {final['valid_tokens']:,}"
                 f" valid tokens per direction; wall {result.seconds:.0f} s "
                 f"(training {final['train_seconds']:.0f} s over all sessions)")
    audit = final["leak_audit"]
    if audit is None:
        lines.append("leak audit: not run (rnnlab audit RUN_DIR runs it)")
        return lines
    lines.append(f"leak audit ({audit['batch']} × {audit['time']} random ids; forward may "
                 "read tokens <= t, backward tokens >= t):")
    lines.extend(f"  {line}" for line in audit["summary"].splitlines())
    if audit["flag"]:
        lines.append(audit["flag"])
    return lines
