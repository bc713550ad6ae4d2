"""What each toy task trains on and how it is scored: batches, loss, accuracy, baseline.

    task      training batch at step s               loss                  accuracy
    adding    adding_batch(task_rng(seed, s))        MSE                   |error| < 0.04
    copy      copy_batch(task_rng(seed, s))          cross-entropy/step    recalled symbols
    quotes    the next window of each text stream    cross-entropy/char    next character

Batch s depends on (seed, s) only, so a resumed run draws the batches it would have drawn,
and runs with the same seed (one per cell) train on the same data. Valid and test sets are
fixed per task and T (seeds :data:`VALID_SEED`, :data:`TEST_SEED`), the same for every run,
so paired differences between cells compare the same sequences.

Quotes reads the training text as char-rnn does (``carry_state``, the default): the text,
taken as a ring, is cut into ``batch`` streams of ``L`` characters; step s reads window
``k = s mod K`` (``K = L // window``) of every stream and starts from the state the previous
step ended in, so the model learns to keep what a window cannot show (whether a quotation
is open). Every K steps a *pass* begins: the state starts from zero and the streams start at
a new offset drawn from (seed, pass)::

    ring   |--- stream 0 (L) ---|--- stream 1 ---| ... |--- stream batch-1 ---|
    step   k=0 | k=1 | ... | k=K-1        (row b of the batch: stream b's window k)

Held-out text is scored in rows of :data:`EVAL_ROW_CHARS` characters, each from a zero state
with the state carried inside it, so the scores see what training taught: context across
windows. With ``carry_state=False`` training draws independent random windows from a zero
state and held-out rows are windows too.

The accuracy of the adding problem is Hochreiter & Schmidhuber's (1997): a sequence counts as
solved when the absolute error is below 0.04.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab.data.toys import (
    ToyTaskConfig,
    adding_baseline_mse,
    adding_batch,
    copy_baseline_cross_entropy,
    copy_batch,
    task_rng,
)

__all__ = ["ToyData", "ToyTaskConfig", "build_toy_data"]

VALID_SEED, TEST_SEED = 1_000_003, 1_000_033  # fixed held-out sets, far from run seeds
EVAL_ROW_CHARS = 2000  # quotes with a carried state: held-out characters per scored row
ADDING_TOLERANCE = 0.04  # Hochreiter & Schmidhuber 1997: solved when |error| < 0.04


@dataclass
class ToyData:
    """A task's fixed evaluation sets (and for quotes, the encoded text): see the module
    docstring. ``baseline`` is the loss of the best model that remembers nothing."""

    config: ToyTaskConfig
    baseline: float
    valid: tuple[np.ndarray, np.ndarray]  # (inputs, targets)
    test: tuple[np.ndarray, np.ndarray]
    classes: int  # per-step classes (copy: 10; quotes: characters); adding: 1
    train_ids: np.ndarray | None = None  # quotes: the training text as ids (chars,)
    alphabet: str = ""  # quotes: id i is alphabet[i - 1]; 0 is an unknown character
    test_text: str = ""  # quotes: the scored test text, for the unit search
    valid_text: str = ""  # quotes: the scored valid text (fits the linear probe)

    def fingerprint(self) -> str:
        digest = hashlib.sha256(json.dumps(self.config.to_dict(), sort_keys=True).encode())
        for array in (*self.valid, *self.test) + ((self.train_ids,) if self.train_ids is not
                                                   None else ()):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]

    def encode(self, text: str) -> np.ndarray:
        """quotes: characters to ids ``(len(text),)`` int64 (0 for one the training text lacks)."""
        index = {character: position + 1 for position, character in enumerate(self.alphabet)}
        return np.fromiter((index.get(c, 0) for c in text), dtype=np.int64, count=len(text))

    def train_batch(self, seed: int, step: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``step`` of a run with ``seed``: (inputs, targets) tensors."""
        rng = task_rng(seed, step)
        if self.config.task == "adding":
            drawn = adding_batch(rng, batch, self.config.T)
            return torch.from_numpy(drawn.inputs), torch.from_numpy(drawn.targets)
        if self.config.task == "copy":
            drawn = copy_batch(rng, batch, self.config.T)
            return torch.from_numpy(drawn.inputs), torch.from_numpy(drawn.targets)
        window = self.config.window
        if not self.config.carry_state:
            starts = rng.integers(0, len(self.train_ids) - window - 1, size=batch)
        else:
            per_pass = self.steps_per_pass(batch)
            shift = task_rng(seed, step // per_pass).integers(0, len(self.train_ids))
            stream = len(self.train_ids) // batch
            starts = shift + np.arange(batch) * stream + (step % per_pass) * window
        rows = np.take(self.train_ids, starts[:, None] + np.arange(window + 1), mode="wrap")
        rows = torch.from_numpy(rows)
        return rows[:, :-1], rows[:, 1:]

    def steps_per_pass(self, batch: int) -> int:
        """quotes with a carried state: K, the windows in one stream of a pass (see the
        module docstring). ValueError when the text is too short for ``batch`` streams."""
        per_pass = len(self.train_ids) // batch // self.config.window
        if per_pass < 1:
            raise ValueError(
                f"batch_size={batch} streams of window={self.config.window} characters need "
                f"{batch * self.config.window} training characters, the text has "
                f"{len(self.train_ids)}: lower training.batch_size or task_options.window, "
                "or give more text")
        return per_pass

    @property
    def carries_state(self) -> bool:
        """Whether a training step starts from the state the previous one ended in (quotes
        with ``carry_state``, within a pass)."""
        return self.config.task == "quotes" and self.config.carry_state

    def starts_pass(self, step: int, batch: int) -> bool:
        """Whether step ``step`` starts from a zero state: always unless :attr:`carries_state`,
        then at the first step of a pass."""
        return not self.carries_state or step % self.steps_per_pass(batch) == 0

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean MSE (adding) or mean per-step cross-entropy in nats (copy, quotes)."""
        if self.config.task == "adding":
            return F.mse_loss(outputs, targets)
        return F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1))

    def correct(self, outputs: torch.Tensor, targets: torch.Tensor) -> tuple[int, int]:
        """(correct, counted): adding sequences within 0.04; copy's 10 recalled symbols;
        every next character of quotes."""
        if self.config.task == "adding":
            hits = (outputs - targets).abs() < ADDING_TOLERANCE
        elif self.config.task == "copy":
            hits = outputs[:, -10:].argmax(-1) == targets[:, -10:]
        else:
            hits = outputs.argmax(-1) == targets
        return int(hits.sum()), hits.numel()


def build_toy_data(config: ToyTaskConfig) -> ToyData:
    """The task's evaluation sets and baseline (for quotes: the encoded text too)."""
    if config.task == "quotes":
        return _quote_data(config)
    draw = adding_batch if config.task == "adding" else copy_batch
    sets = []
    for seed in (VALID_SEED, TEST_SEED):
        drawn = draw(task_rng(seed, config.T), config.eval_examples, config.T)
        sets.append((drawn.inputs, drawn.targets))
    if config.task == "adding":
        return ToyData(config, adding_baseline_mse(), sets[0], sets[1], classes=1)
    return ToyData(config, copy_baseline_cross_entropy(config.T), sets[0], sets[1], classes=10)


def _quote_data(config: ToyTaskConfig) -> ToyData:
    from rnnlab.data.quotes import load_quote_corpus

    corpus = load_quote_corpus(config.source, max_train_chars=config.max_train_chars)
    if len(corpus.train) < config.window + 2:
        raise ValueError(f"window={config.window} needs a training text longer than "
                         f"{config.window + 1} characters, got {len(corpus.train)}")
    alphabet = "".join(sorted(set(corpus.train)))
    encode = ToyData(config, 0.0, (), (), 0, alphabet=alphabet).encode

    def windows(text: str) -> tuple[np.ndarray, np.ndarray]:
        ids = encode(text[: config.eval_chars + 1])
        # Rows as long as the state that training carries (see the module docstring); a
        # held-out text shorter than a row is one row (load_quote_corpus keeps >= 100 chars).
        row = min(EVAL_ROW_CHARS, len(ids) - 1) if config.carry_state else config.window
        count = (len(ids) - 1) // row
        usable = ids[: count * row + 1]
        return usable[:-1].reshape(count, row), usable[1:].reshape(count, row)

    train_ids = encode(corpus.train)
    valid, test = windows(corpus.valid), windows(corpus.test)
    # The best memoryless model predicts the training text's character frequencies (with
    # add-one smoothing so an unseen test character has a finite cost).
    counts = Counter(train_ids.tolist())
    total = len(train_ids) + len(alphabet) + 1
    nll = -np.log([(counts.get(t, 0) + 1) / total for t in test[1].ravel().tolist()])
    baseline = float(np.mean(nll))
    scored = test[0].size + 1
    return ToyData(config, baseline, valid, test, classes=len(alphabet) + 1,
                   train_ids=train_ids, alphabet=alphabet, test_text=corpus.test[:scored],
                   valid_text=corpus.valid[:valid[0].size + 1])
