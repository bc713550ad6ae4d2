"""Models built from the recurrent core: the seed-002 sequence classifiers, language models.

    >>> from rnnlab.models import ClassifierConfig, SequenceClassifier
    >>> config = ClassifierConfig.from_arrangement("MS_RST_LSTM", vocab_size=5000)
    >>> model = SequenceClassifier(config, seed=0)      # ids (batch, time) -> logits (batch, 1)

Names are imported on first use, so that the pure parts (``rnnlab.models.arrangements``)
load without torch, for the result store and the report.
"""

from typing import TYPE_CHECKING

from rnnlab._lazy import attach

_EXPORTS = {
    "SEED_ARRANGEMENTS": "rnnlab.models.arrangements",
    "ArrangementName": "rnnlab.models.arrangements",
    "parse_arrangement": "rnnlab.models.arrangements",
    "SequenceClassifier": "rnnlab.models.classifier",
    "BiLMEncoder": "rnnlab.models.elmo",
    "ElmoClassifier": "rnnlab.models.elmo",
    "ScalarMix": "rnnlab.models.elmo",
    "logits_to_probabilities": "rnnlab.models.classifier",
    "parameter_count": "rnnlab.models.classifier",
    "ClassifierConfig": "rnnlab.models.config",
    "part_generator": "rnnlab.models.init",
    "part_seed": "rnnlab.models.init",
    "pool_states": "rnnlab.models.pooling",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rnnlab.models.arrangements import SEED_ARRANGEMENTS as SEED_ARRANGEMENTS
    from rnnlab.models.arrangements import ArrangementName as ArrangementName
    from rnnlab.models.arrangements import parse_arrangement as parse_arrangement
    from rnnlab.models.classifier import SequenceClassifier as SequenceClassifier
    from rnnlab.models.classifier import logits_to_probabilities as logits_to_probabilities
    from rnnlab.models.classifier import parameter_count as parameter_count
    from rnnlab.models.config import ClassifierConfig as ClassifierConfig
    from rnnlab.models.elmo import BiLMEncoder as BiLMEncoder
    from rnnlab.models.elmo import ElmoClassifier as ElmoClassifier
    from rnnlab.models.elmo import ScalarMix as ScalarMix
    from rnnlab.models.init import part_generator as part_generator
    from rnnlab.models.init import part_seed as part_seed
    from rnnlab.models.pooling import pool_states as pool_states
