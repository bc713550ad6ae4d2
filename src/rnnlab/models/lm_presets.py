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

``awd`` is AWD-LSTM (Merity, Keskar & Socher 2017, "Regularizing and Optimizing LSTM Language
Models"), every number their PTB setting (section 5; their ``main.py`` defaults where the
paper is silent): 3 layers of 1150, 1150, 400 units, a tied 400-wide embedding, weight drop
0.5 on W_hh, locked dropout 0.4 (word vectors) / 0.3 (between layers) / 0.4 (output),
embedding dropout 0.1, AR α = 2, TAR β = 1, weight decay 1.2e-6, SGD lr 30 on the mean token
loss (scaled by window/70), clip 0.25, batch 40, variable BPTT around 70, NT-ASGD with n = 5,
750 epochs; initialisation as their code (torch's LSTM defaults, the embedding U(−0.1, 0.1),
decoder bias 0). Test perplexity on PTB: 58.8 (57.3 after fine-tuning, which rnnlab does not
do). On a CPU that is days per epoch-hundred.

``awd-small`` is ours, sized for Brown on one CPU thread (an epoch ≈ the small preset's
cost): 3 layers of 256, 256, 200 units with a tied 200-wide embedding, batch 20, and lighter
dropout for the ~10× smaller model (weight drop 0.3; locked 0.3 / 0.2 / 0.3; embedding 0.1;
rates scaled down by us, not tuned on test); everything else (lr 30, clip 0.25, AR/TAR 2/1,
weight decay, variable BPTT 70, NT-ASGD n = 5) is the paper's. 60 epochs by default.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    eval_batch_size: int = 10  # streams when evaluating (pytorch/examples, AWD: 10)
    # AWD-LSTM's (see the module docstring); Zaremba's presets leave them off.
    embedding_size: int | None = None  # None: hidden_size
    last_hidden_size: int | None = None  # None: hidden_size
    tie_weights: bool = False  # decoder.weight is embedding.weight
    embedding_init_scale: float | None = None  # None: as init_scale
    embedding_dropout: float = 0.0  # whole words ("dropoute")
    input_dropout: float = 0.0  # locked, word vectors ("dropouti")
    layer_dropout: float = 0.0  # locked, between layers ("dropouth")
    output_dropout: float = 0.0  # locked, last layer's output ("dropout")
    weight_dropout: float = 0.0  # DropConnect on W_hh ("wdrop")
    weight_decay: float = 0.0  # SGD's L2 penalty ("wdecay")
    ar: float = 0.0  # activation regularisation ("alpha")
    tar: float = 0.0  # temporal activation regularisation ("beta")
    loss_reduction: str = "sum"  # "sum" (Zaremba) or "mean" (AWD)
    variable_bptt: bool = False  # AWD's random window lengths
    nt_asgd: bool = False  # average once valid stalls
    nonmono: int = 5  # NT-ASGD's interval n

    def model_config(self, vocab_size: int, **overrides: object) -> LanguageModelConfig:
        """The :class:`LanguageModelConfig` this preset describes, for a ``vocab_size``."""
        fields = {
            "vocab_size": vocab_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "init_scale": self.init_scale,
            "embedding_size": self.embedding_size,
            "last_hidden_size": self.last_hidden_size,
            "tie_weights": self.tie_weights,
            "embedding_init_scale": self.embedding_init_scale,
            "embedding_dropout": self.embedding_dropout,
            "input_dropout": self.input_dropout,
            "layer_dropout": self.layer_dropout,
            "output_dropout": self.output_dropout,
            "weight_dropout": self.weight_dropout,
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

AWD = LMPreset(
    name="awd",
    num_layers=3,
    hidden_size=1150,
    embedding_size=400,
    last_hidden_size=400,  # = the embedding size, so the decoder can be tied
    tie_weights=True,
    bptt=70,
    init_scale=None,  # torch's LSTM defaults, U(±1/sqrt(hidden))
    embedding_init_scale=0.1,
    learning_rate=30.0,
    lr_decay=1.0,  # constant; NT-ASGD instead of a schedule
    decay_after=0,
    max_grad_norm=0.25,
    epochs=750,  # paper; their README's command: 500
    batch_size=40,  # paper (PTB); their code's default 80 is WikiText-2's
    embedding_dropout=0.1,
    input_dropout=0.4,
    layer_dropout=0.3,
    output_dropout=0.4,
    weight_dropout=0.5,
    weight_decay=1.2e-6,
    ar=2.0,
    tar=1.0,
    loss_reduction="mean",
    variable_bptt=True,
    nt_asgd=True,
    nonmono=5,
)
# Ours, for Brown on one CPU thread; see the module docstring for what is the paper's.
AWD_SMALL = replace(
    AWD,
    name="awd-small",
    hidden_size=256,
    embedding_size=200,
    last_hidden_size=200,
    batch_size=20,
    epochs=60,
    input_dropout=0.3,
    layer_dropout=0.2,
    output_dropout=0.3,
    weight_dropout=0.3,
)

PRESETS: dict[str, LMPreset] = {preset.name: preset
                                for preset in (SMALL, MEDIUM, LARGE, AWD, AWD_SMALL)}


def get_preset(name: str) -> LMPreset:
    """The preset called ``name`` ("small", "medium", "large", "awd" or "awd-small")."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}") from None
