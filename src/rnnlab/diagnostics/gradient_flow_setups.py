"""What gradient flow is measured on: demo cells on a toy task, or a saved run on its data.

    cells  Recurrent(input, hidden, cell=name) → Linear(output, 1) on the adding problem
           (Hochreiter & Schmidhuber 1997; Le et al. 2015); the loss at the last step is the
           squared error of the prediction read from the last state. Measured at
           initialisation and, with ``trained_steps``, after that many Adam steps.
           Measurements run on a float64 copy of the model (see :func:`in_float64`).
    runs   a classifier or language-model run directory (``load_run``): the checkpoint's
           model ("trained") and the same config freshly initialised ("init"), on a batch of
           the run's own data, with its own loss at the last step (the classifier's, or the
           language model's cross-entropy of the last position's next token).

The adding problem at ``input_size`` features: feature 0 is a value drawn from U(0, 1) at
every step, feature 1 marks two steps (one in each half); the rest are zero. The target is
the sum of the two marked values; always predicting 1 scores MSE 1/6 ≈ 0.167::

    step       0     1     2    …   T−2   T−1
    value     .31   .87   .05   …   .64   .12
    marker     0     1     0    …    1     0      target .87 + .64 = 1.51
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.core.layers import Recurrent
from rnnlab.core.registry import ALL_CELLS
from rnnlab.diagnostics.gradient_flow import GradientFlow, gradient_flow
from rnnlab.models.init import init_recurrent, part_generator

CELL_ALIASES = {"rnn": "rnn_tanh", "tanh": "rnn_tanh", "relu": "rnn_relu"}
ALL_CELL_NAMES = ("rnn_tanh", "rnn_relu", "gru", "lstm", "peephole", "cifg", "layernorm")
INITS = ("torch", "keras")
ADDING_BASELINE_MSE = 1 / 6  # Var(U1 + U2) = 2/12: the loss of always predicting 1


@dataclass(frozen=True)
class Sizes:
    """Batch and layer sizes; the defaults are seed 002's model."""

    batch: int = 32  # seed 002: fit(batch_size=32)
    time: int = 100  # seed 002: maxlen=100
    input_size: int = 64  # seed 002: Embedding(num_words, 64)
    hidden_size: int = 128  # seed 002: LSTM(128)

    def __post_init__(self) -> None:
        for name in ("batch", "input_size", "hidden_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.time < 2:
            raise ValueError(f"time must be >= 2 (gradient flow needs lags 0 … T−1 and a "
                             f"decay to fit), got {self.time}")
        if self.input_size < 2:
            raise ValueError(f"input_size must be >= 2 (the adding problem's value and "
                             f"marker), got {self.input_size}")


SEED_002_SIZES = Sizes()


@dataclass(frozen=True, eq=False)
class Measured:
    """One measurement: ``model`` (a cell name or a run), ``stage`` ("init" or "trained"),
    the seed, the flow, the mean loss per sequence on the measured batch, and how long the
    model was trained ("100 steps", "5 epochs"; "" at init)."""

    model: str
    stage: str
    seed: int
    flow: GradientFlow
    task_loss: float
    trained_for: str = ""


# -- cells ---------------------------------------------------------------------------------------
def resolve_cells(spec: str) -> list[tuple[str, Any]]:
    """``"rnn,gru,lstm"``, ``"all"`` or ``"package.module:CellClass"`` → (name, cell) pairs,
    where cell is a registered name or a user cell class/factory."""
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if not names:
        raise ValueError(f"--cell must name at least one cell, got {spec!r}")
    resolved: list[tuple[str, Any]] = []
    for name in names:
        if name == "all":
            resolved += [(cell, cell) for cell in ALL_CELL_NAMES]
        elif ":" in name:
            resolved.append((name, _user_cell(name)))
        else:
            cell = CELL_ALIASES.get(name, name)
            if cell not in ALL_CELLS:
                known = sorted([*ALL_CELLS, *CELL_ALIASES, "all"])
                raise ValueError(f"--cell: unknown cell {name!r}; choose from {known} or give "
                                 "a user cell as package.module:CellClass")
            resolved.append((cell, cell))
    return list(dict(resolved).items())


def _user_cell(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"--cell {path!r}: cannot import {module_name!r} ({error}); give "
                         "an importable package.module:CellClass") from None
    cell = getattr(module, attribute, None)
    if not callable(cell):
        raise ValueError(f"--cell {path!r}: {module_name} has no cell class {attribute!r}")
    return cell


def adding_problem(sizes: Sizes, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``x (batch, time, input_size)`` and targets ``(batch,)``; see the module docstring."""
    batch, time = sizes.batch, sizes.time
    x = torch.zeros(batch, time, sizes.input_size)
    x[..., 0] = torch.rand(batch, time, generator=generator)
    half = time // 2
    first = torch.randint(0, half, (batch,), generator=generator)
    second = torch.randint(half, time, (batch,), generator=generator)
    rows = torch.arange(batch)
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    return x, x[rows, first, 0] + x[rows, second, 0]


class AddingModel(nn.Module):
    """A recurrent layer read out at the last step: ``x (batch, time, input)`` → ``(batch,)``."""

    def __init__(self, cell: Any, sizes: Sizes) -> None:
        super().__init__()
        self.recurrent = Recurrent(sizes.input_size, sizes.hidden_size, batch_first=True,
                                   cell=cell)
        self.readout = nn.Linear(self.recurrent.output_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.recurrent(x).last).squeeze(-1)


def build_cell_model(cell: Any, sizes: Sizes, *, init: str = "torch", seed: int = 0
                     ) -> AddingModel:
    """An :class:`AddingModel` of ``cell``; ``init`` "torch" (each cell's own initialisation)
    or "keras" (seed 002's: orthogonal W_hh, Glorot W_ih, zero biases, forget bias 1)."""
    if init not in INITS:
        raise ValueError(f"init must be one of {list(INITS)}, got {init!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AddingModel(cell, sizes)
    if init == "keras":
        init_recurrent(model.recurrent, "keras", part_generator(seed, "recurrent"))
    return model


def squared_error(targets: torch.Tensor):
    """The loss at the last step, per sequence: ``(prediction − target)²``."""
    return lambda prediction: (prediction - targets) ** 2


def train_steps(model: AddingModel, steps: int, sizes: Sizes, *, seed: int = 0,
                lr: float = 1e-3, clip: float = 1.0) -> list[float]:
    """``steps`` Adam updates, each on a fresh adding-problem batch; the loss of each."""
    generator = torch.Generator().manual_seed(seed + 1_000_003)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        x, targets = adding_problem(sizes, generator)
        loss = F.mse_loss(model(x), targets)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        losses.append(loss.detach().item())
    model.eval()
    return losses


def measure_cell(name: str, cell: Any, sizes: Sizes = SEED_002_SIZES, *, seed: int = 0,
                 trained_steps: int = 0, init: str = "torch") -> list[Measured]:
    """Gradient flow of ``cell`` at initialisation and, if ``trained_steps``, after training;
    both on the same held-out adding-problem batch."""
    if trained_steps < 0:
        raise ValueError(f"trained_steps must be >= 0, got {trained_steps}")
    x, targets = adding_problem(sizes, torch.Generator().manual_seed(seed))
    model = build_cell_model(cell, sizes, init=init, seed=seed).eval()
    results = [_measure_adding(name, "init", seed, model, x, targets, "")]
    if trained_steps:
        train_steps(model, trained_steps, sizes, seed=seed)
        results.append(_measure_adding(name, "trained", seed, model, x, targets,
                                       _plural(trained_steps, "step")))
    return results


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _measure_adding(name, stage, seed, model, x, targets, trained_for) -> Measured:
    flow = gradient_flow(in_float64(model), x.double(), loss=squared_error(targets.double()))
    return Measured(name, stage, seed, flow, flow.loss / len(targets), trained_for)


def in_float64(model: nn.Module) -> nn.Module:
    """A float64 copy to measure: a tanh or relu RNN's norms reach 1e-40 by lag 100, below
    float32's smallest normal number (1.2e-38), where they would lose digits or vanish."""
    return copy.deepcopy(model).double().eval()


# -- runs ----------------------------------------------------------------------------------------
def measure_run(run_dir: str | Path, *, batch: int = 32, time: int | None = None,
                data: str | None = None, split: str = "test", seed: int = 0,
                label: str | None = None) -> list[Measured]:
    """The run's model freshly initialised ("init") and as trained, on ``batch`` sequences of
    its ``split``; ``time`` is a language model's window (default 100; a classifier reads its
    encoding's ``maxlen``), ``data`` a classifier's dataset (default: the one it names);
    ``label`` names the model in tables (default: the directory's name)."""
    from rnnlab.train import load_run

    if batch < 1:
        raise ValueError(f"--batch must be >= 1, got {batch}")
    run = load_run(run_dir)
    label = label or Path(run_dir).name or str(run_dir)
    if run.kind == "classifier":
        if time is not None:
            raise ValueError(f"--time does not apply to a classifier run: it reads "
                             f"{run.encoding.maxlen} tokens (its encoding's maxlen)")
        fresh, inputs, loss = _classifier_setup(run, batch, data, split, seed)
    else:
        if data is not None:
            raise ValueError("--data applies to classifier runs; a language-model run "
                             "reloads the corpus it names")
        fresh, inputs, loss = _lm_setup(run, batch, 100 if time is None else time, split, seed)
    results = []
    for stage, model, trained_for in (("init", fresh, ""),
                                      ("trained", run.model, _plural(run.epoch, "epoch"))):
        flow = gradient_flow(in_float64(model), inputs, loss=loss)
        results.append(Measured(label, stage, seed, flow, flow.loss / flow.batch, trained_for))
    return results


def _classifier_setup(run, batch: int, data: str | None, split: str, seed: int):
    from rnnlab.data import load_dataset
    from rnnlab.data.prepare import encode_split
    from rnnlab.models import SequenceClassifier

    name = data or run.payload.get("data_name")
    if split not in ("train", "valid", "test"):
        raise ValueError(f"--split must be train, valid or test, got {split!r}")
    try:
        dataset = load_dataset(name)
    except (ValueError, FileNotFoundError) as error:
        raise ValueError(f"the run's data {name!r} cannot be loaded here ({error}); pass "
                         "--data with the dataset or files it was trained on") from None
    if tuple(dataset.label_names) != run.label_names:
        raise ValueError(f"--data {name!r} has labels {list(dataset.label_names)}, the run "
                         f"{list(run.label_names)}; give the data the run was trained on")
    encoded = encode_split(getattr(dataset, split), run.vocab, run.encoding)
    if len(encoded) == 0:
        raise ValueError(f"the {split} split of {name!r} is empty; choose another --split")
    if run.encoding.maxlen < 2:
        raise ValueError(f"the run reads maxlen={run.encoding.maxlen} token(s); gradient "
                         "flow needs time >= 2")
    order = torch.randperm(len(encoded), generator=torch.Generator().manual_seed(seed))
    rows = order[:batch].numpy()
    ids = torch.as_tensor(encoded.ids[rows], dtype=torch.long)
    lengths = torch.as_tensor(encoded.lengths[rows], dtype=torch.long)
    labels = torch.as_tensor(encoded.labels[rows], dtype=torch.long)
    fresh = SequenceClassifier(run.model_config, seed=int(run.payload["identity"]["seed"]))

    def loss(logits: torch.Tensor) -> torch.Tensor:  # float64 logits (see in_float64)
        if logits.shape[-1] == 1:
            return F.binary_cross_entropy_with_logits(logits.squeeze(-1), labels.to(logits),
                                                      reduction="none")
        return F.cross_entropy(logits, labels, reduction="none")

    return fresh, (ids, lengths), loss


def _lm_setup(run, batch: int, time: int, split: str, seed: int):
    from rnnlab.models.language_model import LanguageModel
    from rnnlab.train.lm_run import load_corpus

    if time < 2:
        raise ValueError(f"--time must be >= 2 (lags 0 … T−1 and a decay to fit), got {time}")
    corpus = load_corpus(run.corpus_spec)
    if tuple(corpus.vocab.tokens) != tuple(run.vocab.tokens):
        raise ValueError(f"the corpus {run.corpus_spec.get('corpus')!r} now gives a different "
                         "vocabulary than the run was trained with; restore the run's corpus")
    stream = torch.as_tensor(getattr(corpus, split), dtype=torch.long)
    if len(stream) < time + 1:
        raise ValueError(f"the {split} split has {len(stream)} tokens, too few for --time "
                         f"{time} (a window needs time + 1); lower --time")
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(stream) - time, (batch,), generator=generator)
    windows = torch.stack([stream[start:start + time + 1] for start in starts.tolist()])
    ids, targets = windows[:, :-1], windows[:, -1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = LanguageModel(run.model_config)

    def loss(logits: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits[:, -1], targets, reduction="none")

    return fresh, ids, loss

