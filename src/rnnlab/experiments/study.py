"""What a study is: arrangements × runs × epochs on one dataset, and how runs are seeded.

``QUICK`` and ``FULL`` are seed 002's study (``FULL`` is its protocol: 12 arrangements,
5 runs × 5 epochs, IMDB reviews of at most 100 tokens, vocabulary 5000, pre-padding,
embedding 64, recurrent 128, dense 64); any other study comes from a TOML/JSON/YAML file::

    name = "my-study"
    dataset = "reviews.csv"            # a dataset name or a path (folder, csv, jsonl, tar.gz)
    arrangements = ["SS_RSF_LSTM", "MS_RST_biGRU"]
    runs = 3
    epochs = 4
    masked = [false, true]             # run every arrangement unmasked and masked (Q4)
    [model]                            # ClassifierConfig overrides for every arrangement
    cell = "layernorm"
    [training]                         # TrainConfig overrides
    batch_size = 64

A study with ``[conditions.<name>]`` tables trains its one arrangement once per condition,
each with its own ClassifierConfig overrides on top of ``[model]``; the condition's name is
the run's key (``runs/<name>/run<r>``), and the report compares every condition with the
first, paired by run index (the transfer study, :mod:`rnnlab.experiments.transfer_study`)::

    arrangements = ["MS_RST_biLSTM"]
    [conditions.baseline]
    [conditions.word2vec]
    embedding_vectors = "pretrained/w2v-imdb-short"     # rnnlab embed word2vec --out
    [conditions.elmo]
    encoder_run = "pretrained/bilm-imdb-short"          # rnnlab lm nextword --out

Fairness by construction: run ``r`` of every arrangement trains with seed ``seeds[r]`` (or
``base_seed + r``), which fixes both the initial weights of the parts that arrangements share
(embedding, dense when shapes agree, output) and the order of the batches.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rnnlab._config import check_known_keys
from rnnlab.experiments.store_records import RunSpec
from rnnlab.experiments.study_checks import (
    MAX_SEED,
    check_conditions,
    check_int,
    check_name,
    check_overrides,
)
from rnnlab.models.arrangements import SEED_ARRANGEMENTS, parse_arrangement
from rnnlab.models.config import ClassifierConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


MAX_RUNS = 1000  # runs per arrangement; a paired interval needs 3, seed 002 used 5
MAX_EPOCHS = 10_000
MAX_VOCAB_SIZE = 10_000_000
MAX_MAXLEN = 100_000  # tokens per example: the encoded arrays are examples × maxlen


class StudyFileError(ValueError):
    """A study file that cannot be read or holds a bad setting; names the file and key."""


@dataclass(frozen=True)
class StudyConfig:
    """A study; the defaults are seed 002's full protocol on the bundled IMDB subset."""

    name: str = "seed002"  # the study's key in the result store
    dataset: str = "imdb-short"  # a dataset name or a path, as `rnnlab train --data`
    arrangements: tuple[str, ...] = SEED_ARRANGEMENTS  # seed 002's 12, in its order
    runs: int = 5  # seed 002: each arrangement trained 5 times
    epochs: int = 5  # seed 002: 5 epochs per run
    base_seed: int = 0  # run r uses seed base_seed + r unless `seeds` is given
    seeds: tuple[int, ...] = ()  # explicit per-run seeds (length = runs)
    masked: tuple[bool, ...] = (False,)  # False = seed 002 (Keras reads the padding)
    masked_arrangements: tuple[str, ...] = ()  # also run these with masked=True (for Q4)
    vocab_size: int = 5000  # seed 002: num_words=5000
    maxlen: int = 100  # seed 002: reviews of at most 100 tokens
    padding: str = "pre"  # seed 002 pads on the left
    model: dict[str, Any] = field(default_factory=dict)  # ClassifierConfig overrides
    training: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides
    data_options: dict[str, Any] = field(default_factory=dict)  # load_dataset keywords
    conditions: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → model overrides
    # The declared order of the conditions of the study these were selected from (the first
    # is the report's reference); () = the order of ``conditions``. The store sorts a table's
    # keys, so to_dict writes it beside them; ``--arrangements`` keeps it whole.
    condition_order: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Everything a run will use is checked here, so a bad study is refused before a
        # store or a directory is created (a study file's errors also name the file).
        check_name(self.name)
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ValueError(f"dataset must be a non-empty string (a name or a path), "
                             f"got {self.dataset!r}")
        check_int("runs", self.runs, 1, MAX_RUNS)
        check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        check_int("vocab_size", self.vocab_size, 3, MAX_VOCAB_SIZE)
        check_int("maxlen", self.maxlen, 1, MAX_MAXLEN)
        check_int("base_seed", self.base_seed, 0, MAX_SEED - self.runs + 1)
        for key in ("arrangements", "masked_arrangements"):
            names = getattr(self, key)
            if not isinstance(names, tuple) or any(not isinstance(n, str) for n in names):
                raise ValueError(f"{key} must be a list of arrangement names, got {names!r}")
        if not self.arrangements:
            raise ValueError("arrangements must name at least one arrangement")
        for name in (*self.arrangements, *self.masked_arrangements):
            parse_arrangement(name)  # raises with the list of valid names
        if not isinstance(self.seeds, tuple):
            raise ValueError(f"seeds must be a list of ints, got {self.seeds!r}")
        for seed in self.seeds:
            check_int("seeds", seed, 0, MAX_SEED)
        if self.seeds and len(self.seeds) != self.runs:
            raise ValueError(
                f"seeds must give one seed per run ({self.runs}), "
                f"got {len(self.seeds)}: {list(self.seeds)}"
            )
        if (not isinstance(self.masked, tuple) or not self.masked
                or any(not isinstance(m, bool) for m in self.masked)):
            raise ValueError(f"masked must be a non-empty list of booleans, got {self.masked!r}")
        if self.padding not in ("pre", "post"):
            raise ValueError(f"padding must be 'pre' or 'post', got {self.padding!r}")
        if not isinstance(self.data_options, dict) or any(
                not isinstance(key, str) for key in self.data_options):
            raise ValueError(f"data_options must be a table of load_dataset keywords, "
                             f"got {self.data_options!r}")
        if isinstance(self.model, dict):
            forbidden = {"vocab_size", "padding", "masked", "arrangement"} & set(self.model)
            if forbidden:
                raise ValueError(
                    f"model overrides {sorted(forbidden)} are set by the study itself "
                    "(use the study's vocab_size/padding/masked fields)"
                )
        check_overrides(self)
        check_conditions(self)  # and the pretrained files they name exist and fit
        _check_condition_order(self.condition_order, self.conditions)

    def seed_of_run(self, run_index: int) -> int:
        return self.seeds[run_index] if self.seeds else self.base_seed + run_index

    def to_dict(self) -> dict[str, Any]:
        data = json.loads(json.dumps(asdict(self)))
        if not self.conditions:  # studies stored before conditions existed still match
            del data["conditions"], data["condition_order"]
        else:  # the store writes tables with sorted keys; the first condition is the reference
            data["condition_order"] = list(self.condition_order or self.conditions)
        return data

    def replace(self, **changes: Any) -> StudyConfig:
        return study_from_dict({**asdict(self), **changes})


def study_from_dict(data: dict[str, Any]) -> StudyConfig:
    """Build a :class:`StudyConfig`; unknown keys are an error that lists the known ones.

    ``kind = "toy"`` builds a toy-task study instead (:mod:`rnnlab.experiments.toy_study`).
    """
    if isinstance(data, dict) and data.get("kind") == "toy":
        from rnnlab.experiments.toy_study import toy_study_from_dict

        return toy_study_from_dict(data)  # type: ignore[return-value]
    check_known_keys(data, StudyConfig, "study key")
    values = dict(data)
    for name in ("arrangements", "seeds", "masked", "masked_arrangements", "condition_order"):
        value = values.get(name)
        if isinstance(value, str | bool):  # one name or flag for a list of one
            values[name] = (value,)
        elif isinstance(value, list | tuple):
            values[name] = tuple(value)
    order, conditions = values.get("condition_order"), values.get("conditions")
    if order and isinstance(conditions, dict) and set(conditions) <= set(order):
        # back in the declared order (a stored table comes back sorted)
        values["conditions"] = {name: conditions[name] for name in order if name in conditions}
    return StudyConfig(**values)


def _check_condition_order(order: Any, conditions: dict[str, Any]) -> None:
    if order == ():
        return
    if (not isinstance(order, tuple) or any(not isinstance(name, str) for name in order)
            or len(set(order)) != len(order) or not set(conditions) <= set(order)):
        raise ValueError(f"condition_order must list every condition {sorted(conditions)} "
                         f"once (and may name others of the study they were selected from), "
                         f"got {order!r}")


def load_study_file(path: str | Path, only_conditions: tuple[str, ...] | None = None
                    ) -> StudyConfig:
    """Read and check a study from TOML, JSON or YAML (YAML needs PyYAML installed), or
    take a bundled study by its name (``toys-adding``: see rnnlab.experiments.toy_profiles;
    ``transfer-imdb-short-quick``: rnnlab.experiments.transfer_study).

    ``only_conditions`` keeps only these of a study's ``conditions`` (before the check, so
    the pretrained files of the others need not exist); a study without conditions ignores it.

    Raises:
        FileNotFoundError: if there is no such file.
        StudyFileError: (a ValueError) if the file cannot be parsed or any setting is bad;
            the message names the file and the key.
    """
    from rnnlab.experiments.toy_profiles import TOY_PROFILES
    from rnnlab.experiments.transfer_study import (
        TRANSFER_STUDIES,
        select_conditions,
        transfer_study_data,
    )

    if not Path(path).is_file() and str(path) in TOY_PROFILES:  # a bundled study's name
        return TOY_PROFILES[str(path)]  # type: ignore[return-value]
    if not Path(path).is_file() and str(path) in TRANSFER_STUDIES:
        try:
            return study_from_dict(transfer_study_data(str(path), only_conditions) or {})
        except ValueError as error:
            raise StudyFileError(f"bundled study {path}: {error}") from None
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"study file not found: {path} (bundled studies: "
                                f"{', '.join([*TOY_PROFILES, *TRANSFER_STUDIES])})")
    try:
        data = _parse(path)
        if not isinstance(data, dict):
            raise ValueError(f"it must hold a table of settings, got {type(data).__name__}")
        return study_from_dict(select_conditions(data, only_conditions))
    except (ValueError, UnicodeDecodeError) as error:
        raise StudyFileError(f"study file {path}: {error}") from None


def _parse(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return tomllib.loads(text)
    if suffix == ".json":
        return json.loads(text)
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as error:
            raise ValueError(
                "reading a YAML study needs PyYAML: pip install 'rnnlab[yaml]' (or write "
                "the study as TOML or JSON, which need nothing extra)"
            ) from error
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ValueError(f"not valid YAML: {error}") from None
    raise ValueError(f"a study file must end in .toml, .json, .yaml or .yml, got {path.name}")


# Seed 002's protocol (5 runs × 5 epochs), plus the masked twin of every arrangement for Q4.
FULL = StudyConfig(name="seed002-full", masked_arrangements=SEED_ARRANGEMENTS)
# The fewest runs and epochs that still give paired intervals (3 runs) and learning curves
# (2 epochs), with Q4 on the two arrangements where padding matters most.
QUICK = StudyConfig(
    name="seed002-quick", runs=3, epochs=2, masked_arrangements=("SS_RST_LSTM", "MS_RSF_biLSTM")
)
PROFILES = {"quick": QUICK, "full": FULL}


def study_conditions(study: StudyConfig) -> list[tuple[str, bool]]:
    """The ``(arrangement, masked)`` conditions a study trains, each ``study.runs`` times:
    every arrangement for every ``masked`` value, then the masked twins asked for by
    ``masked_arrangements`` that are not among them already. A study with ``conditions``
    has one condition per name and ``masked`` value (its one arrangement is in each)."""
    if study.conditions:
        return [(name, masked) for masked in study.masked for name in study.conditions]
    conditions = [(name, masked) for masked in study.masked for name in study.arrangements]
    conditions += [
        (name, True) for name in study.masked_arrangements if (name, True) not in conditions
    ]
    return conditions


def expand_runs(study: StudyConfig, vocab_size: int, num_classes: int) -> list[RunSpec]:
    """Every run the study wants, run index first so complete pairs finish early."""
    conditions = study_conditions(study)
    specs = []
    for run_index in range(study.runs):
        seed = study.seed_of_run(run_index)
        for arrangement, masked in conditions:
            # a named condition: the study's arrangement with the condition's overrides
            overrides = {**study.model, **study.conditions.get(arrangement, {})}
            model = ClassifierConfig.from_arrangement(
                study.arrangements[0] if study.conditions else arrangement,
                vocab_size=vocab_size,
                num_classes=num_classes,
                masked=masked,
                padding=study.padding,
                **overrides,
            )
            if study.conditions:  # runs are named by their condition (RunRow.label), not
                model = model.replace(arrangement=None)  # by the arrangement they share
            specs.append(
                RunSpec(
                    arrangement=arrangement,
                    run_index=run_index,
                    seed=seed,
                    dataset=study.dataset,
                    masked=masked,
                    config={
                        "model": model.to_dict(),
                        "training": dict(study.training),
                        "epochs": study.epochs,
                    },
                )
            )
    return specs
