"""Models built from the recurrent core: the seed-002 sequence classifiers, language models.

    >>> from rnnlab.models import ClassifierConfig, SequenceClassifier
    >>> config = ClassifierConfig.from_arrangement("MS_RST_LSTM", vocab_size=5000)
    >>> model = SequenceClassifier(config, seed=0)      # ids (batch, time) -> logits (batch, 1)

Names are imported on first use, so that the pure parts (``rnnlab.models.arrangements``)
load without torch, for the result store and the report.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SEED_ARRANGEMENTS": "rnnlab.models.arrangements",
    "ArrangementName": "rnnlab.models.arrangements",
    "parse_arrangement": "rnnlab.models.arrangements",
    "SequenceClassifier": "rnnlab.models.classifier",
    "logits_to_probabilities": "rnnlab.models.classifier",
    "parameter_count": "rnnlab.models.classifier",
    "ClassifierConfig": "rnnlab.models.config",
    "part_generator": "rnnlab.models.init",
    "part_seed": "rnnlab.models.init",
    "pool_states": "rnnlab.models.pooling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rnnlab.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
