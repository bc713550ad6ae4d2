"""How a classifier is trained; defaults reproduce seed 002 (Keras ``fit`` with Adam)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rnnlab._config import check_known_keys, check_positive_ints, is_int


@dataclass(frozen=True)
class TrainConfig:
    """Training settings, saved with every checkpoint (see :meth:`to_dict`)."""

    epochs: int = 5  # seed 002: 5 epochs per run
    batch_size: int = 32  # Keras fit's default batch size, which seed 002 keeps
    lr: float = 1e-3  # Keras Adam's default learning rate
    # After the first lr_decay_after epochs, every epoch starts at the previous one's rate
    # times lr_decay (epoch e trains at lr · lr_decay^max(0, e - lr_decay_after)).
    # 1.0 keeps the rate constant, as seed 002.
    lr_decay: float = 1.0
    lr_decay_after: int = 1
    betas: tuple[float, float] = (0.9, 0.999)  # Keras Adam's beta_1, beta_2
    eps: float = 1e-7  # Keras Adam's epsilon (torch's default is 1e-8)
    weight_decay: float = 0.0  # seed 002: none
    clip_grad_norm: float | None = None  # max global gradient norm; None = no clipping
    patience: int | None = None  # early stopping: epochs without a better valid loss; None = off
    restore_best: bool = True  # after early stopping, go back to the best valid-loss epoch
    bucket_pool_batches: int = 1  # >1 sorts pools of this many batches by length (faster
    # with masked=True); 1 = a plain shuffle, as Keras fit
    eval_batch_size: int = 256  # evaluation only: larger batches, same numbers

    def __post_init__(self) -> None:
        check_positive_ints(self, ("epochs", "batch_size", "bucket_pool_batches",
                                   "eval_batch_size"))
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if isinstance(self.lr_decay, bool) or not isinstance(self.lr_decay, int | float) or not (
                0 < self.lr_decay <= 1):
            raise ValueError(f"lr_decay must be a factor in (0, 1] (1 = a constant rate), got "
                             f"{self.lr_decay!r}")
        if isinstance(self.lr_decay_after, bool) or not isinstance(self.lr_decay_after, int) or (
                self.lr_decay_after < 0):
            raise ValueError(f"lr_decay_after must be an int >= 0 (epochs at the full rate), "
                             f"got {self.lr_decay_after!r}")
        if self.clip_grad_norm is not None and not self.clip_grad_norm > 0:
            raise ValueError(f"clip_grad_norm must be > 0 or None, got {self.clip_grad_norm!r}")
        if self.patience is not None and (not is_int(self.patience) or self.patience < 1):
            raise ValueError(f"patience must be an int >= 1 or None, got {self.patience!r}")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        check_known_keys(data, cls, "TrainConfig key")
        return cls(**data)

    def lr_factor(self, epoch: int) -> float:
        """The multiple of ``lr`` that epoch ``epoch`` (1-based) trains at."""
        return self.lr_decay ** max(0, epoch - self.lr_decay_after)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["betas"] = list(self.betas)
        if self.lr_decay == 1.0:  # runs and studies written before the schedule still match
            del data["lr_decay"], data["lr_decay_after"]
        return data
