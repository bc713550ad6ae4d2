"""Toy-task studies: cells × lengths × runs through the same runner, store and report.

A toy study is the toy-task kind of study (``kind = "toy"`` in its file or dict)::

    name = "my-adding"
    kind = "toy"
    task = "adding"                      # "adding", "copy" or "quotes"
    cells = ["rnn", "gru", "lstm"]       # any rnnlab cell: rnn_relu, peephole, cifg, ...
    lengths = [100, 200]                 # T (adding, copy); quotes has none
    runs = 3
    [model]                              # ToyModelConfig overrides
    hidden_size = 64
    [training]                           # ToyTrainConfig overrides (steps, eval_every, ...)
    steps = 3000
    [task_options]                       # ToyTaskConfig overrides (eval_examples, window, ...)

In the store a cell is the *arrangement* and a task at one length the *dataset*
(``adding-T200``), so runs × seeds, the status table, paired intervals by run index and
resuming come from the runner as for ``rnnlab compare``; a record every ``eval_every``
steps plays the part of an epoch (see :mod:`rnnlab.train.toy_run`). Run r of every cell
uses seed ``base_seed + r``: the same batches and the same held-out sequences.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from rnnlab._config import check_known_keys
from rnnlab.data.toys import TOY_TASKS, ToyTaskConfig
from rnnlab.experiments.store import joined_parts
from rnnlab.experiments.store_records import RunSpec
from rnnlab.experiments.study_checks import MAX_SEED, check_int, check_name

__all__ = ["TOY_SCORES", "ToyStudyConfig", "ToyStudyData", "is_toy_study", "prepare_toy_data",
           "toy_study_from_dict"]

KIND = "toy"
MAX_RUNS = 1000
# Per task: what its test loss is and what its accuracy counts (rnnlab.train.toy_tasks'
# ToyData.loss and .correct), for the result lines and the report's tables.
TOY_SCORES = {"adding": ("test MSE", "within 0.04"),
              "copy": ("test cross-entropy", "of recalled symbols right"),
              "quotes": ("test nats/char", "of next characters right")}


@dataclass(frozen=True)
class ToyStudyConfig:
    """A toy-task study; every run config is checked when the study is built."""

    name: str  # the study's key in the result store and its directory under studies/
    task: str  # "adding", "copy" or "quotes"
    cells: tuple[str, ...] = ("rnn_tanh", "gru", "lstm")  # seed 003's three
    lengths: tuple[int, ...] = ()  # T values (adding, copy); must be empty for quotes
    runs: int = 3  # seeds per cell and length (3 gives a paired interval)
    base_seed: int = 0  # run r uses seed base_seed + r
    dataset: str = ""  # quotes: "brown" or a text file; adding/copy: "generated" (the default)
    model: dict[str, Any] = field(default_factory=dict)  # ToyModelConfig overrides
    training: dict[str, Any] = field(default_factory=dict)  # ToyTrainConfig overrides
    task_options: dict[str, Any] = field(default_factory=dict)  # ToyTaskConfig overrides
    kind: str = KIND  # marks the study kind in files and in the store

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.kind != KIND:
            raise ValueError(f"kind must be {KIND!r} for a toy study, got {self.kind!r}")
        if self.task not in TOY_TASKS:
            raise ValueError(f"task must be one of {list(TOY_TASKS)}, got {self.task!r}")
        default_dataset = "brown" if self.task == "quotes" else "generated"
        object.__setattr__(self, "dataset", self.dataset or default_dataset)
        if self.task != "quotes" and self.dataset != "generated":
            raise ValueError(f"dataset must be 'generated' for task {self.task!r} (its data "
                             f"are drawn from the seed), got {self.dataset!r}; only quotes "
                             "reads a text")
        check_int("runs", self.runs, 1, MAX_RUNS)
        check_int("base_seed", self.base_seed, 0, MAX_SEED - self.runs + 1)
        if not isinstance(self.cells, tuple) or not self.cells:
            raise ValueError(f"cells must name at least one cell, got {self.cells!r}")
        if not isinstance(self.lengths, tuple):
            raise ValueError(f"lengths must be a list of ints, got {self.lengths!r}")
        if self.task == "quotes" and self.lengths:
            raise ValueError(f"lengths must be empty for quotes (a language model on text), got "
                             f"{list(self.lengths)}; set task_options.window instead")
        if self.task != "quotes" and not self.lengths:
            raise ValueError(f"lengths must give at least one T for {self.task!r}, e.g. "
                             "[50, 100, 200, 400]")
        for key in ("model", "training", "task_options"):
            if not isinstance(getattr(self, key), dict):
                raise ValueError(f"{key} must be a table of settings, got {getattr(self, key)!r}")
        from rnnlab.models.toys import resolve_cell

        cells = tuple(resolve_cell(cell) for cell in self.cells)
        if len(set(cells)) != len(cells):
            raise ValueError(f"cells must not repeat a cell, got {list(self.cells)}")
        object.__setattr__(self, "cells", cells)
        for forbidden, key in ((("task", "cell", "classes"), "model"),
                               (("task", "T", "source"), "task_options")):
            clash = sorted(set(forbidden) & set(getattr(self, key)))
            if clash:
                raise ValueError(f"{key} overrides {clash} are set by the study itself (its "
                                 "task, cells, lengths and dataset)")
        self.train_config()
        self.task_configs()
        for cell in self.cells:
            self.model_config(cell, classes=10)  # quotes' real size comes with its data

    # -- what the runner and the CLI read of any study --------------------------------------
    @property
    def arrangements(self) -> tuple[str, ...]:
        return self.cells

    @property
    def masked_arrangements(self) -> tuple[str, ...]:
        return ()

    @property
    def epochs(self) -> int:
        """Records per run after initialisation (steps / eval_every): a toy run's epochs."""
        return self.train_config().records

    def seed_of_run(self, run_index: int) -> int:
        return self.base_seed + run_index

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    def replace(self, **changes: Any) -> ToyStudyConfig:
        """A copy with ``changes``; also takes ``rnnlab compare``'s overrides: arrangements
        (cells), epochs (records: steps = epochs · eval_every) and dataset."""
        values = asdict(self)
        if "arrangements" in changes:
            values["cells"] = tuple(changes.pop("arrangements"))
        if changes.pop("masked_arrangements", ()):
            raise ValueError("a toy study has no masked runs; masked_arrangements must be empty")
        if "epochs" in changes:
            epochs = check_int("epochs", changes.pop("epochs"), 1, 100_000)
            training = dict(values["training"])
            training["steps"] = epochs * self.train_config().eval_every
            values["training"] = training
        return toy_study_from_dict({**values, **changes})

    # -- resolved configs --------------------------------------------------------------------
    def train_config(self):
        from rnnlab.train.toy_run import ToyTrainConfig

        try:
            return ToyTrainConfig.from_dict(self.training)
        except (TypeError, ValueError) as error:
            raise ValueError(f"training: {error}") from None

    def task_configs(self) -> list[ToyTaskConfig]:
        lengths = self.lengths or (None,)
        source = {"source": self.dataset} if self.task == "quotes" else {}
        try:
            return [ToyTaskConfig.from_dict({"task": self.task, "T": T, **source,
                                             **self.task_options}) for T in lengths]
        except (TypeError, ValueError) as error:
            raise ValueError(f"task_options: {error}") from None

    def model_config(self, cell: str, classes: int):
        from rnnlab.models.toys import ToyModelConfig

        try:
            return ToyModelConfig.from_dict({"task": self.task, "cell": cell, "classes": classes,
                                             **self.model})
        except (TypeError, ValueError) as error:
            raise ValueError(f"model: {error}") from None

    def expand_runs(self, data: ToyStudyData) -> list[RunSpec]:
        """Every run, run index first (complete pairs of cells finish early)."""
        specs = []
        for run_index in range(self.runs):
            for task in self.task_configs():
                prepared = data.by_condition[task.condition]
                for cell in self.cells:
                    model = self.model_config(cell, classes=prepared.classes)
                    specs.append(RunSpec(
                        arrangement=cell, run_index=run_index, seed=self.seed_of_run(run_index),
                        dataset=task.condition, masked=False,
                        config={"task": task.to_dict(), "model": model.to_dict(),
                                "training": self.train_config().to_dict(),
                                "baseline": prepared.baseline, "epochs": self.epochs}))
        return specs


def is_toy_study(study: Any) -> bool:
    return isinstance(study, ToyStudyConfig)


def toy_study_from_dict(data: dict[str, Any]) -> ToyStudyConfig:
    """Build a :class:`ToyStudyConfig`; unknown keys are an error that lists the known ones."""
    check_known_keys(data, ToyStudyConfig, "toy study key")
    values = dict(data)
    for name in ("cells", "lengths"):
        value = values.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            values[name] = (value,)
        elif isinstance(value, list | tuple):
            values[name] = tuple(value)
    return ToyStudyConfig(**values)


@dataclass
class ToyStudyData:
    """Every condition's prepared data (valid/test sets, baseline; quotes: the text)."""

    by_condition: dict[str, Any]

    def fingerprint_parts(self) -> dict[str, str]:
        """``{"adding-T200": fingerprint}``: each length's data on its own, so a study grown
        by another T keeps the record of the ones it has (``ResultStore.check_data``)."""
        return {name: data.fingerprint() for name, data in self.by_condition.items()}

    def fingerprint(self) -> str:
        return joined_parts(self.fingerprint_parts())


def prepare_toy_data(study: ToyStudyConfig) -> ToyStudyData:
    from rnnlab.train.toy_tasks import build_toy_data

    return ToyStudyData({task.condition: build_toy_data(task) for task in study.task_configs()})
