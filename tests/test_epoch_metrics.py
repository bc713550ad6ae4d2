"""One per-epoch record for classifier runs, language-model runs and the result store; it
writes exactly the keys earlier versions wrote, so their files keep loading."""

from __future__ import annotations

import pytest

from rnnlab._epoch_metrics import EpochMetrics

# Epoch entries in the layout earlier versions wrote to metrics.json / history.json and into
# checkpoints: the keys and key order of the classifier's EpochMetrics.to_dict and the language
# model's EpochRecord.to_dict before the two were merged (commit 14ce09d); values made up.
OLD_CLASSIFIER_EPOCH = {
    "epoch": 2, "train_loss": 0.61, "train_accuracy": 0.7, "valid_loss": None,
    "valid_accuracy": None, "test_loss": 0.64, "test_accuracy": 0.625, "seconds": 1.5,
}
OLD_LM_EPOCH = {
    "epoch": 3, "learning_rate": 0.25, "train_perplexity": 41.2, "valid_perplexity": 57.9,
    "seconds": 12.0, "train_tokens": 929_589,
}


@pytest.mark.parametrize(("entry", "kind"), [(OLD_CLASSIFIER_EPOCH, "classifier"),
                                             (OLD_LM_EPOCH, "language_model")])
def test_old_epoch_entries_round_trip_with_their_keys_and_order(entry, kind):
    metrics = EpochMetrics.from_dict(entry)
    assert metrics.kind == kind
    assert metrics.to_dict() == entry and list(metrics.to_dict()) == list(entry)


def test_a_classifier_record_keeps_missing_splits_as_none():
    metrics = EpochMetrics(1, train_loss=0.5, train_accuracy=0.75, seconds=0.1)
    assert metrics.to_dict()["valid_loss"] is None and metrics.kind == "classifier"


def test_without_timing_drops_only_seconds():
    data = EpochMetrics.from_dict(OLD_LM_EPOCH).without_timing()
    assert data == {k: v for k, v in OLD_LM_EPOCH.items() if k != "seconds"}


def test_mixing_classifier_and_language_model_metrics_is_an_error():
    with pytest.raises(ValueError, match=r"mix classifier metrics \['test_accuracy'\] with "
                                         r"language-model metrics \['valid_perplexity'\]"):
        EpochMetrics(1, test_accuracy=0.5, valid_perplexity=80.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"epoch": 1, "valid_acc": 0.5}, r"unknown epoch metric\(s\) \['valid_acc'\]"),
        ({"valid_accuracy": 0.5}, "need an 'epoch' key"),
        ({"epoch": -1}, "epoch must be an int >= 0, got -1"),
        ({"epoch": True}, "epoch must be an int >= 0, got True"),
    ],
)
def test_bad_entries_are_rejected_with_the_name(data, message):
    with pytest.raises(ValueError, match=message):
        EpochMetrics.from_dict(data)
