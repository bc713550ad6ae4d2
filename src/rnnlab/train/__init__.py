"""Training: the classifier run (seeded, checkpointed, resumable), metrics, saved runs.

    >>> from rnnlab.data import load_dataset
    >>> from rnnlab.train import encode_dataset, classifier_config_for, train_classifier
    >>> data = encode_dataset(load_dataset("imdb-short"))       # vocab 5000, maxlen 100, pre
    >>> config = classifier_config_for(data, "MS_RST_LSTM")
    >>> result = train_classifier(config, data, seed=0, out_dir="runs/x", epochs=5)
    >>> result.final.test_accuracy
    >>> run = load_run("runs/x")    # any run directory: a SavedClassifierRun or a SavedLMRun

Language models train with :func:`rnnlab.train.lm_run.train_language_model`; both kinds of
run record their epochs as :class:`EpochMetrics`.
"""

from rnnlab.data.prepare import ClassificationData, EncodedSplit, encode_dataset
from rnnlab.train.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from rnnlab.train.classifier_run import (
    RunResult,
    check_compatible,
    classifier_config_for,
    train_classifier,
)
from rnnlab.train.config import TrainConfig
from rnnlab.train.divergence import TrainingDivergedError
from rnnlab.train.metrics import EpochMetrics, classification_loss, evaluate_split
from rnnlab.train.predict import Prediction, evaluate_run, predict_texts
from rnnlab.train.run_files import SavedClassifierRun, SavedLMRun, SavedRun, load_run

__all__ = [
    "CheckpointError",
    "ClassificationData",
    "EncodedSplit",
    "EpochMetrics",
    "Prediction",
    "RunResult",
    "SavedClassifierRun",
    "SavedLMRun",
    "SavedRun",
    "TrainConfig",
    "TrainingDivergedError",
    "capture_rng_state",
    "check_compatible",
    "classification_loss",
    "classifier_config_for",
    "encode_dataset",
    "evaluate_run",
    "evaluate_split",
    "load_checkpoint",
    "load_run",
    "predict_texts",
    "restore_rng_state",
    "save_checkpoint",
    "train_classifier",
]
