"""The next-word model's output layer: full and adaptive softmax give normalised
log-probabilities, the same targets' log-probabilities and the same predictions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from rnnlab.models.softmax_heads import check_cutoffs, default_cutoffs

VOCAB, EMB, HIDDEN, BATCH, TIME = 37, 5, 16, 3, 7


def make_model(softmax: str, cutoffs=None, seed: int = 0) -> BidirectionalLM:
    torch.manual_seed(seed)
    config = BidirectionalLMConfig(vocab_size=VOCAB, embedding_size=EMB, hidden_size=HIDDEN,
                                   softmax=softmax, cutoffs=cutoffs)
    return BidirectionalLM(config).eval()


def make_ids(seed: int = 0) -> torch.Tensor:
    return torch.randint(0, VOCAB, (BATCH, TIME), generator=torch.Generator().manual_seed(seed))


def hand_adaptive_log_probs(layer: torch.nn.AdaptiveLogSoftmaxWithLoss,
                            hidden: torch.Tensor) -> torch.Tensor:
    """Grave et al.'s factorisation written out from the layer's weights: a head over the
    shortlist and one slot per cluster, each cluster's words scored through its projection."""
    head = F.log_softmax(layer.head(hidden), dim=-1)
    shortlist = layer.shortlist_size
    pieces = [head[:, :shortlist]]
    for index, projection in enumerate(layer.tail):
        inner = F.log_softmax(projection[1](projection[0](hidden)), dim=-1)
        pieces.append(head[:, shortlist + index : shortlist + index + 1] + inner)
    return torch.cat(pieces, dim=-1)


@pytest.mark.parametrize("cutoffs", [None, (4,), (6, 20)])
def test_adaptive_log_probs_normalise_over_the_whole_vocabulary(cutoffs):
    model = make_model("adaptive", cutoffs)
    with torch.no_grad():
        outputs = model(make_ids())
    for scores in outputs.values():
        assert scores.shape == (BATCH, TIME, VOCAB)
        torch.testing.assert_close(scores.logsumexp(-1), torch.zeros(BATCH, TIME),
                                   atol=1e-5, rtol=0)


@pytest.mark.parametrize("cutoffs", [None, (6, 20)])
def test_adaptive_log_probs_equal_the_hand_written_factorisation(cutoffs):
    model = make_model("adaptive", cutoffs)
    hidden = torch.randn(11, HIDDEN, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = hand_adaptive_log_probs(model.softmax_layer, hidden)
        torch.testing.assert_close(model.log_probs(hidden), expected)
        targets = torch.arange(11) * 3 % VOCAB  # some in the head, some in each cluster
        torch.testing.assert_close(model.target_log_probs(hidden, targets),
                                   expected.gather(1, targets[:, None])[:, 0])


@pytest.mark.parametrize("softmax", ["full", "adaptive"])
def test_targets_and_predictions_follow_the_log_probabilities(softmax):
    model = make_model(softmax)
    hidden = 3 * torch.randn(40, HIDDEN, generator=torch.Generator().manual_seed(2))
    targets = torch.randint(0, VOCAB, (40,), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        log_probs = model.log_probs(hidden)
        torch.testing.assert_close(log_probs.logsumexp(-1), torch.zeros(40), atol=1e-5, rtol=0)
        torch.testing.assert_close(model.target_log_probs(hidden, targets),
                                   log_probs.gather(1, targets[:, None])[:, 0])
        assert torch.equal(model.predict(hidden), log_probs.argmax(-1))
        # the scores a caller sees: log_softmax of them is the log-probability for both heads
        torch.testing.assert_close(
            F.log_softmax(model(make_ids())["forward"], -1),
            model.log_probs(model.softmax_inputs(make_ids())["forward"]))


def test_full_softmax_keeps_the_seed_models_linear_layer_and_weights():
    model = make_model("full")
    assert isinstance(model.softmax_layer, torch.nn.Linear)
    assert {"softmax_layer.weight", "softmax_layer.bias"} <= set(model.state_dict())


def test_an_adaptive_model_round_trips_its_state_dict_and_config():
    model = make_model("adaptive", (6, 20))
    again = BidirectionalLM(BidirectionalLMConfig.from_dict(model.config.to_dict()))
    again.load_state_dict(model.state_dict())
    again.eval()
    ids = make_ids()
    with torch.no_grad():
        torch.testing.assert_close(again(ids)["backward"], model(ids)["backward"],
                                   atol=0, rtol=0)
    assert model.config.to_dict()["cutoffs"] == [6, 20]


def test_default_cutoffs_keep_the_documented_split_below_the_vocabulary():
    assert default_cutoffs(20_000) == (2_000, 10_000)
    assert default_cutoffs(10_000) == (2_000,)
    assert default_cutoffs(40) == (10,)


@pytest.mark.parametrize("cutoffs, message", [
    ((20, 6), "cutoffs (--cutoffs) must be increasing integers in [1, 36]"),
    ((0,), "must be increasing integers in [1, 36] for vocab_size=37, got [0]"),
    ((40,), "got [40]"),
    ((2, 4, 8), "the last cluster projects to 0 units"),
])
def test_bad_cutoffs_name_the_value_and_what_is_allowed(cutoffs, message):
    with pytest.raises(ValueError) as error:
        check_cutoffs(cutoffs, VOCAB, HIDDEN, 4.0)
    assert message in str(error.value)


def test_cutoffs_need_the_adaptive_softmax_and_unknown_config_keys_are_refused():
    with pytest.raises(ValueError, match="cutoffs apply to softmax='adaptive' only"):
        BidirectionalLMConfig(vocab_size=VOCAB, cutoffs=(4,))
    with pytest.raises(ValueError, match="softmax must be one of"):
        BidirectionalLMConfig(vocab_size=VOCAB, softmax="sampled")
    with pytest.raises(ValueError, match=r"unknown BidirectionalLMConfig key\(s\)"):
        BidirectionalLMConfig.from_dict({"vocab_size": VOCAB, "tied": True})
