"""Models built from the recurrent core: the seed-002 sequence classifiers, language models.

    >>> from rnnlab.models import ClassifierConfig, SequenceClassifier
    >>> config = ClassifierConfig.from_arrangement("MS_RST_LSTM", vocab_size=5000)
    >>> model = SequenceClassifier(config, seed=0)      # ids (batch, time) -> logits (batch, 1)

Names are imported on first use, so that the pure parts (``rnnlab.models.arrangements``)
load without torch, for the result store and the report.
"""

from rnnlab._lazy import attach

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

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
