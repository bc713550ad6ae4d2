"""The stacked LSTM LM, perplexity, and Zaremba et al.'s presets."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from rnnlab.models.language_model import (
    LanguageModel,
    LanguageModelConfig,
    perplexity,
    token_nll,
)
from rnnlab.models.lm_presets import LARGE, MEDIUM, PRESETS, SMALL, get_preset

VOCAB, HIDDEN, EMB, BATCH, TIME = 11, 6, 5, 3, 4


def make_model(**overrides) -> LanguageModel:
    torch.manual_seed(0)
    config = LanguageModelConfig(vocab_size=VOCAB, hidden_size=HIDDEN, **overrides)
    return LanguageModel(config).eval()


def make_ids(seed: int = 0, batch: int = BATCH, time: int = TIME) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, time), generator=torch.Generator().manual_seed(seed))


# --- the model --------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "peephole", "cifg", "layernorm"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_every_cell_gives_logits_and_a_carryable_state(cell, num_layers):
    model = make_model(cell=cell, num_layers=num_layers, embedding_size=EMB)
    step = model.run(make_ids())
    assert step.logits.shape == (BATCH, TIME, VOCAB)
    assert [tuple(s.shape) for s in step.state] == [(num_layers, BATCH, HIDDEN)] * 2
    again = model.run(make_ids(1), step.state)  # the state feeds the next window
    assert again.logits.shape == (BATCH, TIME, VOCAB)
    assert torch.equal(model(make_ids()), step.logits)


def test_a_carried_state_equals_reading_the_whole_sequence_at_once():
    model = make_model()
    ids = make_ids(time=7)
    whole = model(ids)
    first = model.run(ids[:, :3])
    second = model.run(ids[:, 3:], first.state)
    torch.testing.assert_close(torch.cat([first.logits, second.logits], dim=1), whole)


@pytest.mark.parametrize("cell", ["lstm", "layernorm"])
def test_logits_at_t_do_not_change_when_later_tokens_change(cell):
    model = make_model(cell=cell)
    ids = make_ids(time=6)
    base = model(ids)
    for t in range(6):
        changed = ids.clone()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 1) % VOCAB
        torch.testing.assert_close(model(changed)[:, : t + 1], base[:, : t + 1], rtol=0, atol=0)


def test_uniform_init_follows_init_scale_and_leaves_layer_norm_alone():
    model = make_model(cell="layernorm", init_scale=0.05)
    for name, parameter in model.named_parameters():
        if "layernorm" in name:
            assert torch.all((parameter == 1) | (parameter == 0)), name
        else:
            assert parameter.abs().max() <= 0.05, name
            assert parameter.abs().max() > 0.04, name  # drawn from the whole range


def test_tied_weights_are_one_parameter():
    model = make_model(tie_weights=True)
    assert model.decoder.weight is model.embedding.weight
    assert len(list(model.parameters())) == len(dict(model.named_parameters()))


def test_tying_needs_equal_sizes():
    with pytest.raises(ValueError, match="embedding_size=5, hidden_size=6"):
        LanguageModelConfig(vocab_size=VOCAB, hidden_size=HIDDEN, embedding_size=EMB,
                            tie_weights=True)


def test_dropout_sits_on_non_recurrent_connections_only():
    model = make_model(dropout=0.5, num_layers=2)
    assert model.dropout.p == 0.5  # embedding -> layer 1 and last layer -> decoder
    assert model.rnn.dropout == 0.5  # between layers, as torch.nn.LSTM (never recurrent)
    model.train()
    ids = make_ids()
    assert not torch.equal(model(ids), model(ids))
    model.eval()
    assert torch.equal(model(ids), model(ids))


def test_bad_ids_shape_names_the_argument():
    with pytest.raises(ValueError, match=r"ids must be \(batch, time\)"):
        make_model()(torch.zeros(4, dtype=torch.long))


# --- perplexity -------------------------------------------------------------------------------
def test_perplexity_is_exp_of_the_mean_token_nll_hand_computed():
    # Vocabulary 3. Token 1: logits (0, ln 2, 0) -> p = (1/4, 1/2, 1/4), target 1: p = 1/2.
    # Token 2: logits (ln 3, 0, 0) -> p = (3/5, 1/5, 1/5), target 0: p = 3/5.
    # Mean NLL = (ln 2 + ln 5/3) / 2, so perplexity = sqrt(2 * 5/3) = sqrt(10/3) = 1.8257...
    logits = torch.tensor([[[0.0, math.log(2), 0.0], [math.log(3), 0.0, 0.0]]])
    targets = torch.tensor([[1, 0]])
    mean_nll = token_nll(logits, targets)
    assert float(mean_nll) == pytest.approx((math.log(2) + math.log(5 / 3)) / 2)
    assert perplexity(float(mean_nll) * 2, 2) == pytest.approx(math.sqrt(10 / 3))


def test_uniform_prediction_has_perplexity_equal_to_the_vocabulary():
    logits = torch.zeros(2, 5, VOCAB)
    targets = torch.randint(0, VOCAB, (2, 5))
    assert perplexity(float(token_nll(logits, targets)) * 10, 10) == pytest.approx(VOCAB)


def test_perplexity_needs_tokens_and_saturates_instead_of_overflowing():
    with pytest.raises(ValueError, match="tokens must be >= 1"):
        perplexity(1.0, 0)
    assert perplexity(1e6, 1) == math.inf


# --- presets ----------------------------------------------------------------------------------
def test_presets_hold_zaremba_et_al_hyper_parameters():
    # Zaremba, Sutskever & Vinyals (2014), section 4.1 (and the authors' code).
    expected = {
        #        layers units steps init  lr  decay     after clip dropout epochs batch
        "small": (2, 200, 20, 0.1, 1.0, 0.5, 4, 5.0, 0.0, 13, 20),
        "medium": (2, 650, 35, 0.05, 1.0, 1 / 1.2, 6, 5.0, 0.5, 39, 20),
        "large": (2, 1500, 35, 0.04, 1.0, 1 / 1.15, 14, 10.0, 0.65, 55, 20),
    }
    assert set(expected) <= set(PRESETS)
    for name, values in expected.items():
        preset = get_preset(name)
        got = (preset.num_layers, preset.hidden_size, preset.bptt, preset.init_scale,
               preset.learning_rate, preset.lr_decay, preset.decay_after, preset.max_grad_norm,
               preset.dropout, preset.epochs, preset.batch_size)
        assert got == pytest.approx(values), name
        assert preset.optimizer == "sgd"
    assert (SMALL.name, MEDIUM.name, LARGE.name) == ("small", "medium", "large")


def test_presets_are_frozen_named_instances():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SMALL.hidden_size = 10  # type: ignore[misc]
    assert get_preset("medium") is MEDIUM
    with pytest.raises(ValueError, match="preset must be one of"):
        get_preset("huge")


def test_learning_rate_schedule_decays_after_the_paper_epoch():
    assert [SMALL.learning_rate_at(e) for e in range(1, 8)] == [1, 1, 1, 1, 0.5, 0.25, 0.125]
    assert MEDIUM.learning_rate_at(6) == 1.0
    assert MEDIUM.learning_rate_at(8) == pytest.approx(1 / 1.2**2)
    assert LARGE.learning_rate_at(15) == pytest.approx(1 / 1.15)


def test_preset_model_config_matches_the_paper_shape():
    config = MEDIUM.model_config(10_000)
    assert (config.vocab_size, config.hidden_size, config.num_layers) == (10_000, 650, 2)
    assert (config.dropout, config.init_scale, config.resolved_embedding_size) == (0.5, 0.05, 650)
    assert MEDIUM.model_config(100, cell="cifg").cell == "cifg"


def test_perplexity_of_a_diverged_loss_is_nan_not_infinity():
    assert math.isnan(perplexity(math.nan, 10))
