"""ULMFiT's schedule: which parameters train, at which rate, in each epoch."""

from __future__ import annotations

import pytest
import torch

from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from rnnlab.models.config import ClassifierConfig
from rnnlab.models.elmo import BiLMEncoder, ElmoClassifier
from rnnlab.train.unfreezing import (
    FinetuneSchedule,
    apply_unfreezing,
    optimizer_groups,
    trainable_groups,
)


def _model(finetune=True) -> ElmoClassifier:
    lm = BidirectionalLM(BidirectionalLMConfig(vocab_size=9, embedding_size=5, hidden_size=6))
    encoder = BiLMEncoder(lm, torch.arange(8))
    return ElmoClassifier(ClassifierConfig(vocab_size=8, embedding_size=4, hidden_size=7,
                                           dense_size=3), encoder, finetune=finetune)


def _names(model, params):
    ids = {id(p) for p in params}
    return {name for name, p in model.named_parameters() if id(p) in ids}


def test_the_groups_are_the_head_then_lstm2_lstm1_and_the_embedding_of_the_encoder():
    model = _model()
    head, lstm2, lstm1, embedding = (_names(model, g) for g in model.layer_groups())
    assert "mix.scalars" in head and "output.weight" in head and "embedding.weight" in head
    assert not any(name.startswith("encoder.") for name in head)
    assert all(".lstm2." in n or ".skip." in n for n in lstm2) and len(lstm2) > 4
    assert all(".lstm1." in n for n in lstm1) and len(lstm1) > 2
    assert embedding == {"encoder.embedding.weight"}


def test_discriminative_rates_divide_by_2_6_per_group_down_from_the_top():
    model = _model()
    groups = optimizer_groups(model, lr=1e-3)
    assert [g["lr"] for g in groups] == pytest.approx([1e-3, 1e-3 / 2.6, 1e-3 / 2.6**2,
                                                       1e-3 / 2.6**3])
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    optimizer = torch.optim.Adam(groups, lr=1e-3)
    assert [g["lr"] for g in optimizer.param_groups] == [g["lr"] for g in groups]


def test_a_model_not_finetuned_keeps_one_group_at_the_base_rate():
    model = _model(finetune=False)
    groups = optimizer_groups(model, lr=1e-3)
    assert len(groups) == 1 and groups[0]["lr"] == 1e-3
    assert apply_unfreezing(model, 1) is None
    assert not any(p.requires_grad for p in model.encoder.parameters())


@pytest.mark.parametrize("every, expected", [
    (1, [1, 2, 3, 4, 4]),  # ULMFiT: one more group each epoch
    (2, [1, 1, 2, 2, 3]),
    (0, [4, 4, 4, 4, 4]),  # no gradual unfreezing: discriminative rates only
])
def test_gradual_unfreezing_adds_one_group_every_few_epochs(every, expected):
    schedule = FinetuneSchedule(unfreeze_every=every)
    assert [trainable_groups(epoch, 4, schedule) for epoch in range(1, 6)] == expected


def test_requires_grad_follows_the_schedule_epoch_by_epoch():
    model = _model()
    groups = model.layer_groups()
    for epoch, trained in ((1, 1), (2, 2), (3, 3), (4, 4), (7, 4)):
        assert apply_unfreezing(model, epoch) == trained
        flags = [{p.requires_grad for p in group} for group in groups]
        assert flags == [{True}] * trained + [{False}] * (4 - trained), epoch


def test_a_step_in_epoch_1_moves_only_the_head():
    model = _model()
    apply_unfreezing(model, 1)
    optimizer = torch.optim.Adam(optimizer_groups(model, lr=0.1), lr=0.1)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    model.train()
    model(torch.randint(1, 8, (3, 5)), torch.tensor([5, 4, 2])).sum().backward()
    optimizer.step()
    moved = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert moved and not any(name.startswith("encoder.") for name in moved)


@pytest.mark.parametrize("field, value", [("lr_decay", 0.5), ("unfreeze_every", -1)])
def test_bad_schedules_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        FinetuneSchedule(**{field: value})
