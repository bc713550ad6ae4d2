"""ELMo-style features: a learned normalised mix, a frozen encoder, no leak across directions."""

from __future__ import annotations

import pytest
import torch

from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from rnnlab.models.config import ClassifierConfig
from rnnlab.models.elmo import BiLMEncoder, ElmoClassifier, ScalarMix

LM_VOCAB, VOCAB, HIDDEN = 13, 11, 6


def _lm(seed: int = 0, **changes) -> BidirectionalLM:
    torch.manual_seed(seed)
    return BidirectionalLM(BidirectionalLMConfig(vocab_size=LM_VOCAB, embedding_size=5,
                                                 hidden_size=HIDDEN, **changes))


def _classifier(padding="pre", masked=False, finetune=False, lm=None) -> ElmoClassifier:
    id_map = (torch.arange(VOCAB) * 3) % LM_VOCAB  # classifier id i -> bi-LM id 3i mod 13
    encoder = BiLMEncoder(lm or _lm(), id_map, padding=padding)
    config = ClassifierConfig(vocab_size=VOCAB, embedding_size=4, hidden_size=7, dense_size=3,
                              padding=padding, masked=masked, pooling="mean")
    return ElmoClassifier(config, encoder, seed=0, finetune=finetune)


def test_mix_weights_are_a_softmax_that_sums_to_one_and_gets_gradients():
    mix = ScalarMix(3)
    with torch.no_grad():
        mix.scalars.copy_(torch.tensor([0.5, -1.0, 2.0]))
        mix.gamma.fill_(1.5)
    weights = mix.weights()
    assert torch.allclose(weights.sum(), torch.tensor(1.0)) and (weights > 0).all()
    layers = [torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    expected = 1.5 * sum(w * layer for w, layer in zip(torch.softmax(torch.tensor(
        [0.5, -1.0, 2.0]), 0), layers, strict=True))  # eq. 1 of Peters et al., by hand
    out = mix(layers)
    assert torch.allclose(out, expected, atol=1e-6)
    out.sum().backward()
    assert mix.scalars.grad is not None and mix.scalars.grad.abs().sum() > 0
    assert mix.gamma.grad is not None and mix.gamma.grad != 0


def test_a_training_step_moves_the_mix_but_never_the_frozen_encoder():
    model = _classifier()
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    mix_before = model.mix.scalars.detach().clone()
    ids = torch.randint(1, VOCAB, (3, 5), generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    assert not model.encoder.training  # frozen features: eval mode, dropout off
    loss = model(ids, torch.tensor([5, 3, 1])).sum()
    loss.backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    optimizer.step()
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, encoder_before[key]), key
    assert not torch.equal(model.mix.scalars.detach(), mix_before)


def test_finetuning_lets_gradients_reach_the_encoder():
    model = _classifier(finetune=True)
    model.train()
    assert model.encoder.training
    model(torch.randint(1, VOCAB, (3, 5)), torch.tensor([5, 3, 1])).sum().backward()
    assert model.encoder.embedding.weight.grad is not None
    groups = model.layer_groups()
    assert len(groups) == 4 and sum(len(g) for g in groups) == len(list(model.parameters()))


def _layers(model, ids, lengths):
    with torch.no_grad():
        return model.encoder(ids, lengths)


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_forward_features_never_see_later_tokens_nor_backward_features_earlier_ones(padding):
    model = _classifier(padding=padding)
    time, length = 7, 6  # one padded position, on the padding side
    real = torch.tensor([3, 5, 2, 9, 4, 7])
    ids = torch.zeros(1, time, dtype=torch.long)
    offset = time - length if padding == "pre" else 0
    ids[0, offset:offset + length] = real
    lengths = torch.tensor([length])
    base = _layers(model, ids, lengths)
    for changed in range(length):
        perturbed = ids.clone()
        perturbed[0, offset + changed] = 10 if real[changed] != 10 else 8
        new = _layers(model, perturbed, lengths)
        for j in (1, 2):  # LSTM1 and LSTM2; forward = first HIDDEN features
            forward_diff = (new[j] - base[j])[0, :, :HIDDEN].abs().amax(-1)
            backward_diff = (new[j] - base[j])[0, :, HIDDEN:].abs().amax(-1)
            for step in range(length):
                position = offset + step
                if step < changed:  # forward state at t reads tokens <= t only
                    assert forward_diff[position] == 0, (j, changed, step)
                else:
                    assert forward_diff[position] > 0, (j, changed, step)
                if step > changed:  # backward state at t reads tokens >= t only
                    assert backward_diff[position] == 0, (j, changed, step)
                else:
                    assert backward_diff[position] > 0, (j, changed, step)
        token_diff = (new[0] - base[0])[0].abs().amax(-1)  # the token layer: token t only
        assert (token_diff > 0).nonzero().flatten().tolist() == [offset + changed]


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_features_are_zero_at_padding_and_ignore_its_content(padding):
    model = _classifier(padding=padding)
    ids = torch.tensor([[0, 0, 3, 4], [5, 6, 7, 8]]) if padding == "pre" else \
        torch.tensor([[3, 4, 0, 0], [5, 6, 7, 8]])
    lengths = torch.tensor([2, 4])
    layers = _layers(model, ids, lengths)
    pad = [0, 1] if padding == "pre" else [2, 3]
    for layer in layers:
        assert layer[0, pad].abs().sum() == 0
    other = ids.clone()
    other[0, pad] = 9
    for a, b in zip(layers, _layers(model, other, lengths), strict=True):
        assert torch.equal(a, b)


def test_pre_padded_features_equal_the_bi_lms_own_on_the_real_tokens():
    lm = _lm()
    model = _classifier(padding="pre", lm=lm)
    ids = torch.tensor([[0, 0, 3, 4, 5]])
    layers = _layers(model, ids, torch.tensor([3]))
    lm_ids = (torch.tensor([[3, 4, 5]]) * 3) % LM_VOCAB
    with torch.no_grad():
        own = lm.eval().features(lm_ids)
    assert torch.allclose(layers[1][0, 2:], own.layer1[0], atol=1e-6)
    assert torch.allclose(layers[2][0, 2:], own.layer2[0], atol=1e-6)


def test_a_leaky_bi_lm_is_refused():
    with pytest.raises(ValueError, match="leaky"):
        BiLMEncoder(_lm(leaky=True), torch.arange(VOCAB) % LM_VOCAB)


def test_the_id_map_must_fit_both_vocabularies():
    with pytest.raises(ValueError, match=r"\[0, 13\)"):
        BiLMEncoder(_lm(), torch.arange(VOCAB) + 10)
    encoder = BiLMEncoder(_lm(), torch.arange(5))
    with pytest.raises(ValueError, match="vocab_size=11"):
        ElmoClassifier(ClassifierConfig(vocab_size=VOCAB), encoder)


@pytest.mark.parametrize("masked", [False, True])
def test_logits_have_one_row_per_example_and_a_state_dict_round_trip_keeps_them(masked):
    model = _classifier(masked=masked).eval()
    ids, lengths = torch.randint(1, VOCAB, (3, 5)), torch.tensor([5, 2, 1])
    ids[1, :3] = 0
    ids[2, :4] = 0
    logits = model(ids, lengths)
    assert logits.shape == (3, 1)
    copy = _classifier(masked=masked, lm=_lm(seed=1)).eval()
    copy.load_state_dict(model.state_dict())
    assert torch.equal(copy(ids, lengths), logits)
