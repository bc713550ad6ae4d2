"""Per-direction scores of the next-word model: one definition of accuracy and perplexity for
the full and the adaptive softmax, checked against a position-by-position oracle."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from rnnlab.train.lm_nextword import NextWordData, next_word_loss
from rnnlab.train.nextword_eval import evaluate_directions, run_loss

VOCAB = 29


def make_model(softmax: str) -> BidirectionalLM:
    torch.manual_seed(0)
    return BidirectionalLM(BidirectionalLMConfig(vocab_size=VOCAB, embedding_size=5,
                                                 hidden_size=16, softmax=softmax))


def ragged_data() -> NextWordData:
    """Five texts of lengths 6, 2, 4, 7, 3, post-padded with 0."""
    lengths = torch.tensor([6, 2, 4, 7, 3])
    ids = torch.randint(1, VOCAB, (5, 7), generator=torch.Generator().manual_seed(4))
    ids[torch.arange(7)[None, :] >= lengths[:, None]] = 0
    return NextWordData(ids, lengths)


def oracle(model: BidirectionalLM, data: NextWordData) -> dict[str, tuple[float, float]]:
    """(accuracy, perplexity) per direction, one text and one position at a time: the forward
    output at t is scored against token t+1, the backward one against token t-1."""
    model.eval()
    hits = {"forward": [], "backward": []}
    nll = {"forward": [], "backward": []}
    with torch.no_grad():
        for ids, length in zip(data.ids, data.lengths.tolist(), strict=True):
            text = ids[:length][None]  # alone, unpadded
            log_probs = {k: F.log_softmax(v[0], -1) for k, v in model(text).items()}
            for t in range(length):
                for name, target_at in (("forward", t + 1), ("backward", t - 1)):
                    if 0 <= target_at < length:
                        target = int(text[0, target_at])
                        hits[name].append(int(log_probs[name][t].argmax()) == target)
                        nll[name].append(-float(log_probs[name][t, target]))
    return {name: (sum(hits[name]) / len(hits[name]), math.exp(sum(nll[name]) / len(nll[name])))
            for name in hits}


@pytest.mark.parametrize("softmax", ["full", "adaptive"])
@pytest.mark.parametrize("batch_size", [2, 64])
def test_accuracy_and_perplexity_per_direction_match_the_oracle(softmax, batch_size):
    model, data = make_model(softmax), ragged_data()
    scores = evaluate_directions(model, data, batch_size=batch_size)
    for name, (accuracy, perplexity) in oracle(model, data).items():
        assert scores[name].tokens == 6 + 2 + 4 + 7 + 3 - 5  # length - 1 per text
        assert scores[name].accuracy == pytest.approx(accuracy, abs=1e-12)
        assert scores[name].perplexity == pytest.approx(perplexity, rel=1e-5)


def test_a_model_that_learned_its_texts_scores_the_same_accuracy_through_both_heads():
    # A trained model has confident argmaxes, so the two heads' predictions are comparable:
    # both are scored by the same definition, which the oracle implements once.
    data = ragged_data()
    for softmax in ("full", "adaptive"):
        model = make_model(softmax)
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)
        for _ in range(60):
            loss = run_loss(model, data.ids, data.lengths)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scores = evaluate_directions(model, data)
        expected = oracle(model, data)
        assert scores["forward"].accuracy == pytest.approx(expected["forward"][0], abs=1e-12)
        assert scores["backward"].accuracy > 0.5  # it learned: the check is not vacuous


def test_run_loss_of_the_full_softmax_is_the_seed_demonstrations_loss():
    model, data = make_model("full"), ragged_data()
    model.eval()
    with torch.no_grad():
        expected = next_word_loss(model(data.ids, lengths=data.lengths), data.ids, data.lengths)
        torch.testing.assert_close(run_loss(model, data.ids, data.lengths), expected)


def test_evaluation_restores_the_training_mode():
    model = make_model("adaptive").train()
    evaluate_directions(model, ragged_data())
    assert model.training
