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
