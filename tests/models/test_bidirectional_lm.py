"""Seed 000's bidirectional next-word model: shapes, features, and who sees what.

The causality checks are direct token substitutions (the leak audit in rnnlab.diagnostics
does this generally; these tests do not depend on it).
"""

from __future__ import annotations

import pytest
import torch

from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig

VOCAB, EMB, HIDDEN, BATCH, TIME = 13, 5, 6, 3, 7


def make_model(leaky: bool = False, cell: str = "lstm", leaky_lstm1_only: bool = False):
    torch.manual_seed(0)
    config = BidirectionalLMConfig(vocab_size=VOCAB, embedding_size=EMB, hidden_size=HIDDEN,
                                   leaky=leaky, cell=cell, leaky_lstm1_only=leaky_lstm1_only)
    return BidirectionalLM(config).eval()


def make_ids(seed: int = 0) -> torch.Tensor:
    return torch.randint(0, VOCAB, (BATCH, TIME), generator=torch.Generator().manual_seed(seed))


def substituted(ids: torch.Tensor, positions: slice) -> torch.Tensor:
    changed = ids.clone()
    changed[:, positions] = (changed[:, positions] + 1 + torch.arange(BATCH)[:, None]) % VOCAB
    return changed


def max_change(model, ids, changed, name, at: int) -> float:
    with torch.no_grad():
        return float((model(ids)[name][:, at] - model(changed)[name][:, at]).abs().max())


@pytest.mark.parametrize("leaky", [False, True])
def test_both_directions_give_logits_in_input_order(leaky):
    outputs = make_model(leaky)(make_ids())
    assert set(outputs) == {"forward", "backward"}
    assert all(v.shape == (BATCH, TIME, VOCAB) for v in outputs.values())


def test_one_softmax_layer_is_shared_and_the_stacks_are_separate():
    model = make_model()
    assert isinstance(model.softmax_layer, torch.nn.Linear)
    assert model.forward_stack.lstm1 is not model.backward_stack.lstm1
    assert model.backward_stack.lstm1.go_backwards and model.backward_stack.lstm2.go_backwards
    assert not model.forward_stack.lstm1.go_backwards


def test_leaky_and_fixed_models_have_the_same_parameters():
    assert make_model(False).state_dict().keys() == make_model(True).state_dict().keys()


def test_features_are_embedding_and_both_directions_per_layer():
    features = make_model().features(make_ids())
    assert features.embedding.shape == (BATCH, TIME, EMB)
    assert features.layer1.shape == (BATCH, TIME, 2 * HIDDEN)
    assert features.layer2.shape == (BATCH, TIME, 2 * HIDDEN)
    assert features.concat().shape == (BATCH, TIME, EMB + 4 * HIDDEN)


@pytest.mark.parametrize("cell", ["lstm", "peephole"])
def test_fixed_forward_logits_at_t_ignore_tokens_after_t(cell):
    model, ids = make_model(cell=cell), make_ids()
    for t in range(TIME - 1):
        assert max_change(model, ids, substituted(ids, slice(t + 1, None)), "forward", t) < 1e-6
        assert max_change(model, ids, substituted(ids, slice(t, t + 1)), "forward", t) > 1e-4


@pytest.mark.parametrize("cell", ["lstm", "peephole"])
def test_fixed_backward_logits_at_t_ignore_tokens_before_t(cell):
    model, ids = make_model(cell=cell), make_ids()
    for t in range(1, TIME):
        assert max_change(model, ids, substituted(ids, slice(0, t)), "backward", t) < 1e-6
        assert max_change(model, ids, substituted(ids, slice(t, t + 1)), "backward", t) > 1e-4


@pytest.mark.parametrize("flags", [{"leaky": True}, {"leaky_lstm1_only": True}])
def test_leaky_backward_logits_depend_on_tokens_before_t(flags):
    model, ids = make_model(**flags), make_ids()
    for t in range(1, TIME):
        # the target of position t is token t-1: changing it alone moves the logits
        assert max_change(model, ids, substituted(ids, slice(t - 1, t)), "backward", t) > 1e-4


def test_leaky_forward_direction_is_untouched_by_the_bug():
    leaky, fixed, ids = make_model(leaky=True), make_model(leaky=False), make_ids()
    with torch.no_grad():
        torch.testing.assert_close(leaky(ids)["forward"], fixed(ids)["forward"])


def test_with_lengths_the_backward_direction_starts_at_the_last_real_token():
    model, ids = make_model(), make_ids()
    lengths = torch.tensor([TIME, 4, 2])
    garbage = ids.clone()
    for row, length in enumerate(lengths.tolist()):
        garbage[row, length:] = (garbage[row, length:] + 3) % VOCAB
    with torch.no_grad():
        base, other = model(ids, lengths=lengths), model(garbage, lengths=lengths)
        for row, length in enumerate(lengths.tolist()):
            for name in ("forward", "backward"):
                torch.testing.assert_close(base[name][row, :length], other[name][row, :length])
        # and each row equals the same sequence run alone without padding
        alone = model(ids[1:2, :4])
        torch.testing.assert_close(base["backward"][1, :4], alone["backward"][0])
        torch.testing.assert_close(base["forward"][1, :4], alone["forward"][0])


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="vocab_size must be >= 2"):
        BidirectionalLMConfig(vocab_size=1)
    with pytest.raises(ValueError, match="dropout must be in"):
        BidirectionalLMConfig(vocab_size=5, dropout=1.0)
    with pytest.raises(ValueError, match="not both"):
        BidirectionalLMConfig(vocab_size=5, leaky=True, leaky_lstm1_only=True)


# --- AWD-LSTM's regularisers (Merity et al. 2017) on the encoder --------------------------

ALL_ON = {"embedding_dropout": 0.5, "input_dropout": 0.5, "layer_dropout": 0.5,
          "weight_dropout": 0.5, "dropout": 0.0}


def regularised(**rates: float) -> BidirectionalLM:
    torch.manual_seed(0)
    return BidirectionalLM(BidirectionalLMConfig(vocab_size=VOCAB, embedding_size=EMB,
                                                 hidden_size=HIDDEN, **rates))


def test_regularisers_keep_the_parameters_and_are_the_identity_in_eval_mode():
    plain, awd = regularised(), regularised(**ALL_ON)
    assert awd.state_dict().keys() == plain.state_dict().keys()
    awd.load_state_dict(plain.state_dict())
    ids = make_ids()
    with torch.no_grad():
        expected = plain.eval()(ids)
        assert all(torch.equal(awd.eval()(ids)[k], expected[k]) for k in expected)
        trained = awd.train()(ids)  # and they act in training
    assert not torch.allclose(trained["forward"], expected["forward"])


def test_regularised_training_stays_causal_in_both_directions():
    """Masks are drawn per sequence or per vocabulary row, never across time, so a token
    after t still cannot reach the forward logits at t (with the same masks: same seed)."""
    model = regularised(**ALL_ON).train()
    ids = make_ids()

    def logits(inputs, name):
        torch.manual_seed(7)
        with torch.no_grad():
            return model(inputs)[name]

    later, earlier = substituted(ids, slice(4, None)), substituted(ids, slice(0, 3))
    torch.testing.assert_close(logits(ids, "forward")[:, :4], logits(later, "forward")[:, :4])
    torch.testing.assert_close(logits(ids, "backward")[:, 3:], logits(earlier, "backward")[:, 3:])


def test_input_dropout_is_one_mask_per_sequence_shared_by_both_stacks():
    model = regularised(input_dropout=0.5).train()
    with torch.no_grad():
        model.embedding.weight.fill_(1.0)
    seen = {}

    def keep_input(name):
        def hook(module, args, output) -> None:  # None: the output is left as it is
            seen[name] = args[0]
        return hook

    for name in ("forward_stack", "backward_stack"):
        getattr(model, name).lstm1.register_forward_hook(keep_input(name))
    torch.manual_seed(3)
    model(make_ids())
    dropped = seen["forward_stack"]  # (batch, time, embedding): 0 or 1/(1-p) = 2
    assert set(dropped.unique().tolist()) == {0.0, 2.0}
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped))  # the same at every step
    assert torch.equal(seen["backward_stack"], dropped)


def test_layer_dropout_reaches_lstm2_only_and_leaves_the_layer1_feature_whole():
    plain, dropped = regularised(), regularised(layer_dropout=0.6)
    dropped.load_state_dict(plain.state_dict())
    ids = make_ids()
    with torch.no_grad():
        expected, got = plain.train().features(ids), dropped.train().features(ids)
    torch.testing.assert_close(got.embedding, expected.embedding)
    torch.testing.assert_close(got.layer1, expected.layer1)
    assert not torch.allclose(got.layer2, expected.layer2)


def test_embedding_dropout_drops_a_word_everywhere_it_occurs():
    model = regularised(embedding_dropout=0.5).train()
    ids = make_ids()
    torch.manual_seed(1)
    with torch.no_grad():
        embedded = model.features(ids).embedding  # (batch, time, embedding)
        vectors = model.embedding.weight
    for word in ids.unique().tolist():
        rows = embedded[ids == word]  # every occurrence of the word in the batch
        kept = torch.allclose(rows, (2.0 * vectors[word]).expand_as(rows))
        assert kept or torch.equal(rows, torch.zeros_like(rows)), word


def test_weight_drop_reaches_every_lstm_of_both_stacks():
    model = regularised(weight_dropout=0.3)
    for stack in (model.forward_stack, model.backward_stack):
        assert stack.lstm1.dropout_spec.weight == stack.lstm2.dropout_spec.weight == 0.3
    ids = make_ids()
    with torch.no_grad():
        evaluated, trained = model.eval()(ids), model.train()(ids)
    for name in ("forward", "backward"):  # alone, it changes what training computes
        assert not torch.allclose(trained[name], evaluated[name])


@pytest.mark.parametrize("name", ["embedding_dropout", "input_dropout", "layer_dropout",
                                  "weight_dropout"])
def test_config_rejects_a_regulariser_outside_0_1_and_reads_a_config_saved_before_them(name):
    with pytest.raises(ValueError, match=f"{name} must be in \\[0, 1\\), got 1.0"):
        BidirectionalLMConfig(vocab_size=5, **{name: 1.0})
    old = BidirectionalLMConfig(vocab_size=5).to_dict()
    del old[name]
    assert getattr(BidirectionalLMConfig.from_dict(old), name) == 0.0
