"""One claimed toy run, trained and recorded: the toy kind of ``runner.train_one_run``.

The run's directory (``runs/<task-T>/<cell>/run<r>``) holds what
:func:`rnnlab.train.toy_run.train_toy` writes (checkpoint, config, metrics); a
quote-detection run also gets ``units.json``, ``units.png`` and ``states.html``, the
units that best separate "inside a quotation" from "outside" on the held-out text
(:mod:`rnnlab.diagnostics.quote_units`), which the report shows beside the loss curves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnlab.experiments.claimed_run import FinalScores, OnEpoch, train_claimed_run
from rnnlab.experiments.store import ResultStore
from rnnlab.experiments.store_records import RunRow

__all__ = ["is_toy_run", "toy_run_directory", "train_toy_run"]


def toy_run_directory(study_dir: Path, run: RunRow) -> Path:
    """``runs/<task-T>/<cell>/run<r>``: a toy study holds several lengths of one cell."""
    return study_dir / "runs" / run.dataset / run.arrangement / f"run{run.run_index}"


def is_toy_run(run: RunRow) -> bool:
    """Toy runs carry their task in the config (classifier runs have none)."""
    return "task" in run.config


def train_toy_run(store: ResultStore, run: RunRow, data: Any, study_dir: Path,
                  progress: bool = False) -> None:
    """Train (or resume) one claimed toy run, recording each evaluation as an epoch."""
    from rnnlab.data.toys import ToyTaskConfig
    from rnnlab.models.toys import ToyModelConfig
    from rnnlab.train.toy_run import ToyTrainConfig, train_toy

    config = run.config
    out_dir = toy_run_directory(study_dir, run)

    def train(on_epoch: OnEpoch) -> FinalScores:
        task = ToyTaskConfig.from_dict(config["task"])
        prepared = data.by_condition[task.condition]
        result = train_toy(ToyModelConfig.from_dict(config["model"]), prepared,
                           ToyTrainConfig.from_dict(config["training"]), seed=run.seed,
                           out_dir=out_dir, on_record=on_epoch)
        if task.task == "quotes":
            from rnnlab.diagnostics.quote_units import write_quote_units

            write_quote_units(result.model, prepared, out_dir)
        return result.final

    train_claimed_run(store, run, out_dir, train)
