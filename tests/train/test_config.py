"""TrainConfig's validation: every bad value is refused by name, a bool is never a count."""

from __future__ import annotations

import pytest

from rnnlab.train import TrainConfig


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "epochs must be an int >= 1, got 0"),
        # True == 1 in Python: a flag passed where a count belongs must not train one epoch.
        ({"epochs": True}, "epochs must be an int >= 1, got True"),
        ({"batch_size": 2.5}, "batch_size must be an int >= 1, got 2.5"),
        ({"bucket_pool_batches": False}, "bucket_pool_batches must be an int >= 1, got False"),
        ({"eval_batch_size": -3}, "eval_batch_size must be an int >= 1, got -3"),
        ({"patience": True}, "patience must be an int >= 1 or None, got True"),
        ({"patience": 0}, "patience must be an int >= 1 or None, got 0"),
        ({"lr": 0.0}, "lr must be > 0, got 0.0"),
        ({"lr_decay": 1.5}, r"lr_decay must be a factor in \(0, 1\]"),
        ({"lr_decay_after": -1}, "lr_decay_after must be an int >= 0"),
        ({"clip_grad_norm": 0.0}, "clip_grad_norm must be > 0 or None"),
    ],
)
def test_bad_values_name_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes)


def test_good_values_pass_and_round_trip_through_a_dict():
    config = TrainConfig(epochs=3, batch_size=16, patience=2, bucket_pool_batches=10)
    assert TrainConfig.from_dict(config.to_dict()) == config
