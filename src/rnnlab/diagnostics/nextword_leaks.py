"""The leak audit of seed 000's bidirectional next-word model, and its verdict as a record.

The model's contract: the forward output at t may read tokens ≤ t (it predicts t+1), the
backward output at t tokens ≥ t (it predicts t−1). The audit (:func:`audit_leaks`) measures
both on random ids; a model that breaks either contract, like seed 000's ``go_backwards``
bug, is *flagged*: its "accuracy" in that direction comes from reading the target, so it is
not a language-model score, and features taken from it carry the leak into any transfer.

``rnnlab lm nextword --out`` ends with this audit and ``rnnlab audit RUN_DIR`` repeats it;
with the same ``batch``, ``time`` and ``seed`` they give the same report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnlab.diagnostics.audit_config import AuditConfig
from rnnlab.diagnostics.leak_audit import audit_leaks
from rnnlab.diagnostics.leak_report import LeakReport
from rnnlab.models.bidirectional_lm import BidirectionalLM

NEXT_WORD_CONTRACT = {"forward": "forward", "backward": "backward"}
AUDIT_BATCH = 4  # sequences (as `rnnlab audit`'s --batch default)
AUDIT_TIME = 24  # tokens per sequence (as its --time default)


def audit_ids(vocab_size: int, batch: int, time: int, seed: int) -> torch.Tensor:
    """Uniform random ids ``(batch, time)`` from ``seed``: what `rnnlab audit` feeds a run."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (batch, time), generator=generator)


def audit_next_word_model(
    model: BidirectionalLM,
    *,
    batch: int = AUDIT_BATCH,
    time: int = AUDIT_TIME,
    seed: int = 0,
    config: AuditConfig | None = None,
) -> LeakReport:
    """Audit both directions of ``model`` against :data:`NEXT_WORD_CONTRACT`."""
    vocab_size = model.config.vocab_size
    ids = audit_ids(vocab_size, batch, time, seed)
    return audit_leaks(model, ids, NEXT_WORD_CONTRACT, vocab_size=vocab_size, config=config)


def leak_flag(report: LeakReport) -> str | None:
    """None when the model keeps its contract; else the warning a leaky run carries."""
    leaking = [name for name, audit in report.outputs.items() if not audit.passed]
    if not leaking:
        return None
    return (f"LEAKY MODEL: the {' and '.join(leaking)} output(s) read tokens their contract "
            f"forbids, so their next-word accuracy is not a language-model score (seed 000's "
            f"go_backwards bug does this); do not report it or transfer from this run")


def verdict_record(report: LeakReport, *, batch: int, time: int, seed: int) -> dict[str, Any]:
    """The JSON-ready verdict a run keeps in ``metrics.json`` (``final.leak_audit``)."""
    return {
        "passed": report.passed,
        "verdict": report.verdict,
        "leaking_outputs": [n for n, a in report.outputs.items() if not a.passed],
        "flag": leak_flag(report),
        "summary": report.summary(),
        "batch": batch, "time": time, "seed": seed,
    }


def audit_for_training(model: BidirectionalLM) -> tuple[LeakReport, dict[str, Any]]:
    """The audit a next-word run ends with (``train_nextword_run(..., audit=...)``): the
    report and its verdict record, on :data:`AUDIT_BATCH` × :data:`AUDIT_TIME` ids, seed 0."""
    report = audit_next_word_model(model, batch=AUDIT_BATCH, time=AUDIT_TIME, seed=0)
    return report, verdict_record(report, batch=AUDIT_BATCH, time=AUDIT_TIME, seed=0)


@dataclass(frozen=True, eq=False)
class AuditTarget:
    """A trained run's model, its contract and how to describe it (``rnnlab audit RUN_DIR``)."""

    model: torch.nn.Module
    contract: Any  # "forward" or NEXT_WORD_CONTRACT
    vocab_size: int
    description: str
    next_word: bool  # a seed-000 run: a leak is flagged with leak_flag


def load_audit_target(run_dir: str | os.PathLike[str]) -> AuditTarget:
    """The model of a next-word run (``rnnlab lm nextword --out``) or of a language-model run
    (``rnnlab lm train --out``) in ``run_dir``, with the contract its outputs declare."""
    from rnnlab.train import load_run
    from rnnlab.train.nextword_files import is_nextword_dir, load_nextword_run

    if is_nextword_dir(run_dir):
        run = load_nextword_run(run_dir)
        return AuditTarget(run.model, NEXT_WORD_CONTRACT, len(run.vocab),
                           f"next-word run {run_dir} (variant {run.variant}, {run.epoch} "
                           f"epoch(s))", next_word=True)
    path = Path(run_dir)
    if path.is_dir() and not (path / "checkpoint.pt").is_file():
        found = sorted(p.name for p in path.iterdir()) or "nothing"
        raise ValueError(f"RUN_DIR {str(path)!r} holds no run: no checkpoint.pt (found "
                         f"{found}); pass the --out directory of `rnnlab lm train` or "
                         "`rnnlab lm nextword`, or --model for a demonstration model")
    loaded = load_run(run_dir, "language_model")
    return AuditTarget(loaded.model, "forward", len(loaded.vocab), f"LM run {run_dir}",
                       next_word=False)
