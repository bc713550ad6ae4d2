"""A tiny trained tagger run (CRF, char CNN, LSTM) on the synthetic tagging grammar, for the
tagger export and serving tests: trains in about a second."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rnnlab.train.tagger_run import TAGGER_TRAINING, train_tagger
from tests.models.tagging_grammar import grammar_dataset

# sizes all differ: word embedding 6, char embedding 4, char filters 5, hidden 7, tags 4
OPTIONS = {"word_embedding_size": 6, "char_embedding_size": 4, "char_size": 5,
           "hidden_size": 7, "dropout": 0.2, "crf": True, "char_features": "cnn",
           "cell": "lstm"}
TRAINING = replace(TAGGER_TRAINING, epochs=2, batch_size=8, lr=0.02, patience=None)


def train_tiny_tagger(out_dir: Path, **options) -> Path:
    """Train a 2-epoch tagger into ``out_dir``; ``options`` override :data:`OPTIONS`."""
    train_tagger(grammar_dataset(train=40, valid=8, test=8), out_dir=out_dir, seed=4,
                 model_options={**OPTIONS, **options}, train_config=TRAINING, progress=False)
    return out_dir
