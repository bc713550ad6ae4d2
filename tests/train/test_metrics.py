"""Losses, predictions, evaluation, configs and the quiet progress bar."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnlab.data import encode_texts
from rnnlab.train import EncodedSplit, TrainConfig, evaluate_split, load_run, predict_texts
from rnnlab.train import train_classifier as train
from rnnlab.train.metrics import (
    classification_loss,
    index_batches,
    length_sorted_batches,
    predicted_labels,
)
from rnnlab.train.progress import progress_enabled
from tests.train.helpers import synthetic_data, tiny_config


def test_binary_loss_is_binary_cross_entropy_of_the_sigmoid():
    logits, labels = torch.tensor([[0.0], [2.0], [-1.0]]), torch.tensor([1, 0, 0])
    p = torch.sigmoid(logits[:, 0])
    by_hand = -(labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    torch.testing.assert_close(classification_loss(logits, labels), by_hand)
    assert predicted_labels(logits).tolist() == [0, 1, 0]  # logit 0 is p = 0.5: not positive


def test_multiclass_loss_is_softmax_cross_entropy():
    logits, labels = torch.tensor([[1.0, 2.0, 0.5]]), torch.tensor([1])
    expected = -torch.log_softmax(logits, -1)[0, 1]
    torch.testing.assert_close(classification_loss(logits, labels), expected)
    assert predicted_labels(logits).tolist() == [1]


def test_index_batches_cover_every_example_in_order():
    assert [b.tolist() for b in index_batches(5, 2)] == [[0, 1], [2, 3], [4]]
    assert index_batches(0, 2) == []


def test_length_sorted_batches_cover_every_example_once_shortest_first():
    lengths = np.array([5, 1, 9, 1, 3, 7, 2])
    batches = length_sorted_batches(lengths, 3)
    assert [b.tolist() for b in batches] == [[1, 3, 6], [4, 0, 5], [2]]  # ties stay in order
    assert all(b.dtype == np.int64 for b in batches)
    assert length_sorted_batches(np.zeros(0, np.int64), 3) == []


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_a_masked_models_sorted_evaluation_equals_scoring_one_review_at_a_time(padding):
    """The oracle: every example alone (batch 1, no padding at all), in index order."""
    data = synthetic_data(padding)
    model = train(tiny_config(data, masked=True), data, seed=0, epochs=1, progress=False).model
    split = data.test
    assert len(set(split.lengths.tolist())) > 1  # sorting has something to reorder
    losses, hits = [], 0
    model.eval()
    with torch.no_grad():
        for row in range(len(split)):
            length = int(split.lengths[row])
            ids = split.ids[row, -length:] if padding == "pre" else split.ids[row, :length]
            logits = model(torch.as_tensor(ids)[None], torch.tensor([length]))
            label = torch.as_tensor(split.labels[row : row + 1])
            losses.append(float(classification_loss(logits, label)))
            hits += int(predicted_labels(logits)[0] == label[0])
    loss, accuracy = evaluate_split(model, split, padding=padding, batch_size=4)
    assert accuracy == hits / len(split)
    assert loss == pytest.approx(sum(losses) / len(split), rel=1e-5)


def test_evaluation_does_not_depend_on_the_batch_size():
    data = synthetic_data()
    result = train(tiny_config(data, masked=True), data, seed=0, epochs=1, progress=False)
    small = evaluate_split(result.model, data.test, padding="pre", batch_size=3)
    large = evaluate_split(result.model, data.test, padding="pre", batch_size=64)
    assert small[1] == large[1] and math.isclose(small[0], large[0], rel_tol=1e-6)
    empty = EncodedSplit(np.zeros((0, 4), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert all(math.isnan(v) for v in evaluate_split(result.model, empty, padding="pre"))


def test_saved_run_predicts_like_the_trained_model(tmp_path):
    data = synthetic_data()
    result = train(tiny_config(data), data, seed=0, out_dir=tmp_path, epochs=2, progress=False)
    saved = load_run(tmp_path)
    for (name, a), (_, b) in zip(saved.model.state_dict().items(),
                                 result.model.state_dict().items()):
        assert torch.equal(a, b), name
    texts = ["the film was great", "awful plot"]
    predictions = predict_texts(saved, texts)
    encoded = encode_texts(texts, data.vocab, data.encoding)
    with torch.no_grad():
        direct = torch.sigmoid(result.model(torch.as_tensor(encoded.ids)))[:, 0]
    for prediction, positive in zip(predictions, direct.tolist()):
        assert math.isclose(prediction.probabilities[1], positive, rel_tol=1e-6)
        assert prediction.label == ("pos" if positive > 0.5 else "neg")
        assert prediction.probability == max(prediction.probabilities) >= 0.5
        assert math.isclose(sum(prediction.probabilities), 1.0, rel_tol=1e-6)
    assert predict_texts(saved, []) == []


def test_train_config_validates_and_round_trips():
    config = TrainConfig(clip_grad_norm=1.0, patience=2)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="unknown TrainConfig key"):
        TrainConfig.from_dict({"learning_rate": 1.0})
    with pytest.raises(ValueError, match="patience must be an int >= 1 or None"):
        TrainConfig(patience=0)


def test_no_progress_bar_when_not_asked_or_not_a_terminal(capsys):
    assert progress_enabled(False) is False
    assert progress_enabled(True) is False  # pytest captures stderr: not a terminal
    data = synthetic_data()
    train(tiny_config(data), data, seed=0, epochs=1, progress=True)
    assert capsys.readouterr().err == ""
