"""Classifiers built from pretrained artifacts, trained by train_classifier."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rnnlab.data.vocab import Vocab
from rnnlab.embeddings import WordVectors
from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from rnnlab.models.config import ClassifierConfig
from rnnlab.models.elmo import ElmoClassifier
from rnnlab.train import TrainConfig, train_classifier
from rnnlab.train import transfer as transfer_module
from rnnlab.train.transfer import build_classifier, check_pretrained_paths
from tests.train.helpers import synthetic_data, tiny_config

TRAIN = TrainConfig(epochs=2, batch_size=16, lr=1e-2)


@pytest.fixture
def data():
    return synthetic_data()


def _vectors(data, tmp_path, dim=5, skip=("great",)):
    words = [t for t in data.vocab.tokens[2:] if t not in skip]
    rows = np.stack([np.full(dim, 10.0 + i, np.float32) for i in range(len(words))])
    return WordVectors(tuple(words), rows).save(tmp_path / "w2v"), words


def test_word2vec_rows_land_at_the_classifiers_ids_and_coverage_is_recorded(data, tmp_path):
    path, words = _vectors(data, tmp_path)
    config = tiny_config(data, embedding_vectors=str(path))
    model, record = build_classifier(config, data, seed=0)
    scale = record["embedding_vectors"]["scale"]
    for row, word in enumerate(words):
        expected = torch.tensor(10.0 + row) * scale
        assert torch.allclose(model.embedding.weight[data.vocab.token_to_id(word)], expected)
    plain, _ = build_classifier(tiny_config(data), data, seed=0)
    great = data.vocab.token_to_id("great")
    assert torch.equal(model.embedding.weight[great], plain.embedding.weight[great])
    assert record["embedding_vectors"]["words_covered"] == len(words)
    assert record["embedding_vectors"]["words"] == len(words) + 1


def test_vectors_are_scaled_to_the_spread_of_the_initial_embedding(data, tmp_path):
    words = data.vocab.tokens[2:]
    rows = np.random.default_rng(0).normal(scale=3.0, size=(len(words), 5)).astype(np.float32)
    path = WordVectors(tuple(words), rows).save(tmp_path / "big")
    plain, _ = build_classifier(tiny_config(data), data, seed=0)
    model, record = build_classifier(tiny_config(data, embedding_vectors=str(path)), data,
                                     seed=0)
    init_std = float(plain.embedding.weight.detach().std())
    assert record["embedding_vectors"]["scale"] == pytest.approx(init_std / rows.std(), rel=1e-5)
    assert float(model.embedding.weight[2:].detach().std()) == pytest.approx(init_std, rel=0.05)


def test_a_frozen_word2vec_embedding_does_not_change_in_training(data, tmp_path):
    path, _ = _vectors(data, tmp_path)
    config = tiny_config(data, embedding_vectors=str(path), freeze_embedding=True)
    initial, _ = build_classifier(config, data, seed=0)
    result = train_classifier(config, data, seed=0, train_config=TRAIN, progress=False,
                              out_dir=tmp_path / "run")
    assert torch.equal(result.model.embedding.weight, initial.embedding.weight)
    assert not torch.equal(result.model.output.weight, initial.output.weight)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["transfer"]["embedding_vectors"]["path"] == str(path)
    assert saved["label"] == "MS_RST_LSTM+word2vec+frozen-embedding"


def test_a_plain_config_is_saved_as_before_without_transfer_keys(data):
    assert set(ClassifierConfig().to_dict()) == {
        "vocab_size", "num_classes", "embedding_size", "cell", "hidden_size", "num_layers",
        "bidirectional", "pooling", "dense_size", "dense_activation", "dropout",
        "embedding_dropout", "pooled_dropout", "masked", "padding", "init", "arrangement"}
    config = ClassifierConfig(encoder_run="run", encoder_training="finetune")
    assert ClassifierConfig.from_dict(config.to_dict()) == config


def _fake_run(data, monkeypatch, words=None):
    tokens = ("<pad>", "<unk>", "<s>", "</s>", *(words or data.vocab.tokens[2:]))
    torch.manual_seed(0)  # a loaded run's weights are fixed; so are these
    lm = BidirectionalLM(BidirectionalLMConfig(vocab_size=len(tokens), embedding_size=4,
                                               hidden_size=3))
    run = SimpleNamespace(model=lm, vocab=Vocab(tokens))
    monkeypatch.setattr(transfer_module, "load_encoder_run", lambda path: run)
    return run


@pytest.mark.parametrize("training", ["frozen", "finetune"])
def test_an_elmo_classifier_trains_and_its_frozen_encoder_stays_put(
        data, tmp_path, monkeypatch, training):
    run = _fake_run(data, monkeypatch)
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    config = tiny_config(data, encoder_run="bilm", encoder_training=training)
    result = train_classifier(config, data, seed=0, train_config=TRAIN, progress=False)
    assert isinstance(result.model, ElmoClassifier)
    encoder = result.model.encoder
    moved = [k for k, v in encoder.state_dict().items()
             if k != "id_map" and not torch.equal(v, before[k])]
    if training == "frozen":
        assert moved == []
    else:  # epoch 2 of ULMFiT's schedule trains LSTM2 and the skip layers, not yet LSTM1
        assert moved and all(".lstm2." in k or ".skip." in k for k in moved)
    great = data.vocab.token_to_id("great")
    assert encoder.id_map[great] == run.vocab.token_to_id("great")
    assert encoder.id_map[data.vocab.unk_id] == run.vocab.unk_id


def test_training_a_finetuned_run_twice_gives_the_same_numbers(data, monkeypatch):
    _fake_run(data, monkeypatch)
    config = tiny_config(data, encoder_run="bilm", encoder_training="finetune")
    first = train_classifier(config, data, seed=3, train_config=TRAIN, progress=False)
    _fake_run(data, monkeypatch)
    second = train_classifier(config, data, seed=3, train_config=TRAIN, progress=False)
    assert [m.train_loss for m in first.history] == [m.train_loss for m in second.history]


def test_a_bi_lm_whose_vocabulary_does_not_fit_the_data_is_refused(data, monkeypatch):
    _fake_run(data, monkeypatch, words=["zebra", "quartz"])
    with pytest.raises(ValueError, match=r"'bilm' does not fit the data.*covers.*lm nextword"):
        build_classifier(tiny_config(data, encoder_run="bilm"), data, seed=0)


def test_pretrained_paths_are_checked_without_the_data(tmp_path, data):
    with pytest.raises(ValueError, match=r"conditions.w2v.embedding_vectors: .*nowhere"):
        check_pretrained_paths(ClassifierConfig(embedding_vectors=str(tmp_path / "nowhere")),
                               "conditions.w2v")
    path, _ = _vectors(data, tmp_path, dim=3)
    with pytest.raises(ValueError, match=r"dimension 3, but embedding_size = 64"):
        check_pretrained_paths(ClassifierConfig(embedding_vectors=str(path)), "model")
    with pytest.raises(ValueError, match=r"encoder_run: .*missing.*does not exist.*lm nextword"):
        check_pretrained_paths(ClassifierConfig(encoder_run=str(tmp_path / "missing")), "m")


@pytest.mark.parametrize("changes, match", [
    ({"encoder_training": "finetune"}, "needs encoder_run"),
    ({"encoder_training": "thaw", "encoder_run": "x"}, "encoder_training must be one of"),
    ({"encoder_run": ""}, "encoder_run must be a path"),
    ({"freeze_embedding": "yes"}, "freeze_embedding must be true or false"),
])
def test_bad_transfer_settings_name_the_field(changes, match):
    with pytest.raises(ValueError, match=match):
        ClassifierConfig(**changes)


def test_a_resumed_finetuned_run_ends_as_an_uninterrupted_one(data, tmp_path, monkeypatch):
    config = tiny_config(data, encoder_run="bilm", encoder_training="finetune")
    _fake_run(data, monkeypatch)
    whole = train_classifier(config, data, seed=1, train_config=TRAIN, progress=False,
                             out_dir=tmp_path / "whole")
    _fake_run(data, monkeypatch)
    train_classifier(config, data, seed=1, epochs=1, train_config=TRAIN, progress=False,
                     out_dir=tmp_path / "cut")
    _fake_run(data, monkeypatch)
    resumed = train_classifier(config, data, seed=1, train_config=TRAIN, progress=False,
                               out_dir=tmp_path / "cut", resume=True)
    assert resumed.resumed_from == 1
    assert [m.to_dict() for m in resumed.history][1]["train_loss"] == \
        [m.to_dict() for m in whole.history][1]["train_loss"]
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_a_saved_elmo_run_loads_with_every_weight_from_its_checkpoint(data, tmp_path,
                                                                      monkeypatch):
    from rnnlab.train import load_run

    run = _fake_run(data, monkeypatch)
    encoder_dir = tmp_path / "bilm"
    encoder_dir.mkdir()
    config = tiny_config(data, encoder_run=str(encoder_dir), encoder_training="finetune")
    result = train_classifier(config, data, seed=0, train_config=TRAIN, progress=False,
                              out_dir=tmp_path / "run")
    # the rebuild reads only the bi-LM's shape: hand it a differently initialised one
    torch.manual_seed(1)
    other = BidirectionalLM(run.model.config)
    monkeypatch.setattr(transfer_module, "load_encoder_run",
                        lambda path: SimpleNamespace(model=other, vocab=run.vocab))
    loaded = load_run(tmp_path / "run")
    assert loaded.model.encoder is not result.model.encoder
    assert isinstance(loaded.model, ElmoClassifier)
    ids = torch.as_tensor(data.test.ids[:8])
    lengths = torch.as_tensor(data.test.lengths[:8])
    result.model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.model(ids, lengths), result.model(ids, lengths))
    assert torch.equal(loaded.model.encoder.id_map, result.model.encoder.id_map)
    encoder_dir.rmdir()
    with pytest.raises(ValueError, match="which is gone"):
        load_run(tmp_path / "run")
