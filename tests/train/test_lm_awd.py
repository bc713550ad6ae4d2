"""The AWD-LSTM preset end to end: the model's pieces, the loss, NT-ASGD in a run, resume."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import rnnlab.train.lm_run as lm_run
from rnnlab.data import LMCorpus, Vocab
from rnnlab.data.tbptt import TBPTTBatches
from rnnlab.models.language_model import LanguageModel, LanguageModelConfig, LMStep, token_nll
from rnnlab.models.lm_presets import AWD, AWD_SMALL, get_preset
from rnnlab.train import load_run
from rnnlab.train.checkpoint import load_checkpoint, save_checkpoint
from rnnlab.train.lm_loop import LMTrainConfig, train_epoch, window_objective
from rnnlab.train.lm_regularizers import (
    activation_regularization,
    temporal_activation_regularization,
)
from rnnlab.train.metrics import EpochMetrics
from rnnlab.train.variable_bptt import VariableBPTTBatches

VOCAB = 11
# tiny sizes that all differ: layers 7, 7 | 5, embedding 5 (tied)
TINY = replace(AWD_SMALL, hidden_size=7, embedding_size=5, last_hidden_size=5, batch_size=3,
               bptt=9)


def quiet(_: str) -> None:
    pass


def tiny_model(**overrides) -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(TINY.model_config(VOCAB, **overrides))


def random_corpus(train: int = 600) -> LMCorpus:
    vocab = Vocab(tuple(["<unk>", "<eos>"] + [f"w{i}" for i in range(VOCAB - 2)]),
                  pad_token=None)
    rng = np.random.default_rng(0)
    cycle = (np.arange(train + 200) % 7 + rng.integers(0, 2, train + 200)) % VOCAB
    return LMCorpus(cycle[:train], cycle[train:train + 120], cycle[train + 120:], vocab)


# --- the presets ------------------------------------------------------------------------------
def test_awd_preset_holds_merity_et_al_ptb_settings():
    # Merity, Keskar & Socher (2017), section 5, and their main.py for the init
    assert (AWD.num_layers, AWD.hidden_size, AWD.embedding_size, AWD.last_hidden_size) == (
        3, 1150, 400, 400)
    assert AWD.tie_weights and AWD.bptt == 70 and AWD.batch_size == 40
    assert (AWD.input_dropout, AWD.layer_dropout, AWD.output_dropout, AWD.embedding_dropout,
            AWD.weight_dropout) == (0.4, 0.3, 0.4, 0.1, 0.5)
    assert (AWD.ar, AWD.tar, AWD.weight_decay) == (2.0, 1.0, 1.2e-6)
    assert (AWD.learning_rate, AWD.max_grad_norm, AWD.nonmono, AWD.epochs) == (30.0, 0.25, 5,
                                                                               750)
    assert AWD.loss_reduction == "mean" and AWD.variable_bptt and AWD.nt_asgd
    assert AWD.init_scale is None and AWD.embedding_init_scale == 0.1
    assert [AWD.learning_rate_at(epoch) for epoch in (1, 100, 750)] == [30.0] * 3
    assert get_preset("awd") is AWD and get_preset("awd-small") is AWD_SMALL


def test_awd_small_changes_only_sizes_and_dropout_rates():
    changed = {name for name in AWD.__dataclass_fields__
               if getattr(AWD, name) != getattr(AWD_SMALL, name)}
    assert changed == {"name", "hidden_size", "embedding_size", "last_hidden_size",
                       "batch_size", "epochs", "input_dropout", "layer_dropout",
                       "output_dropout", "weight_dropout"}
    assert AWD_SMALL.last_hidden_size == AWD_SMALL.embedding_size  # tied


def test_train_config_from_the_awd_preset_takes_its_training_half():
    config = LMTrainConfig.from_preset(AWD)
    assert (config.ar, config.tar, config.weight_decay, config.nonmono) == (2.0, 1.0, 1.2e-6, 5)
    assert config.loss_reduction == "mean" and config.variable_bptt and config.nt_asgd
    assert (config.learning_rate, config.max_grad_norm, config.batch_size) == (30.0, 0.25, 40)


# --- the model ----------------------------------------------------------------------------
def test_a_separate_top_layer_has_its_own_size_state_and_tied_decoder():
    model = tiny_model()
    assert model.rnn.num_layers == 2 and model.rnn.hidden_size == 7
    assert model.rnn_top is not None and model.rnn_top.hidden_size == 5
    assert model.decoder.weight is model.embedding.weight
    ids = torch.randint(0, VOCAB, (3, 4))
    step = model.run(ids)
    assert tuple(step.logits.shape) == (3, 4, VOCAB)
    assert [tuple(part.shape) for part in step.state] == [(2, 3, 7), (2, 3, 7), (1, 3, 5),
                                                          (1, 3, 5)]
    assert tuple(step.last_output.shape) == tuple(step.dropped_output.shape) == (3, 4, 5)
    assert [tuple(p.shape) for p in model.init_state(3)] == [tuple(p.shape) for p in step.state]


def test_awd_init_uses_torch_lstm_defaults_and_a_small_embedding():
    model = tiny_model()
    assert float(model.embedding.weight.detach().abs().max()) <= 0.1 + 1e-7  # (float32's 0.1)
    assert torch.count_nonzero(model.decoder.bias) == 0
    bound = 1 / 7 ** 0.5  # torch's LSTM init: U(±1/sqrt(hidden)) = ±0.378
    assert 0.1 < float(model.rnn.weight_hh_l0.detach().abs().max()) <= bound


def test_carrying_the_state_equals_reading_the_stream_at_once():
    model = tiny_model().eval()
    ids = torch.randint(0, VOCAB, (3, 8))
    whole = model(ids)
    first = model.run(ids[:, :5])
    second = model.run(ids[:, 5:], first.state)
    torch.testing.assert_close(torch.cat([first.logits, second.logits], 1), whole)


def test_output_dropout_is_one_mask_per_sequence_and_feature_for_all_steps():
    model = tiny_model(output_dropout=0.5, input_dropout=0.0, layer_dropout=0.0,
                       weight_dropout=0.0, embedding_dropout=0.0).train()
    step = model.run(torch.randint(0, VOCAB, (3, 6)))
    ratio = step.dropped_output / step.last_output  # (batch, time, hidden): the mask
    assert set(torch.unique(ratio.round(decimals=4)).tolist()) <= {0.0, 2.0}
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))  # the same at every step


def test_weight_drop_keeps_the_fused_kernel():
    model = tiny_model().train()
    x = torch.zeros(3, 4, 5)
    assert model.rnn.dropout_spec.weight == model.rnn_top.dropout_spec.weight == 0.3
    assert model.rnn._path(False, 4, x) != "loop"
    assert model.rnn_top._path(False, 4, torch.zeros(3, 4, 7)) != "loop"


def test_eval_mode_is_deterministic_and_training_mode_is_not():
    model = tiny_model()
    ids = torch.randint(0, VOCAB, (3, 6))
    model.eval()
    torch.testing.assert_close(model(ids), model(ids), rtol=0, atol=0)
    model.train()
    assert not torch.equal(model(ids), model(ids))


@pytest.mark.parametrize("field, flag", [
    ("weight_dropout", "--wdrop"), ("embedding_dropout", "--dropoute"),
    ("input_dropout", "--dropouti"), ("layer_dropout", "--dropouth"),
    ("output_dropout", "--dropouto"),
])
def test_a_bad_rate_names_its_field_and_flag(field, flag):
    with pytest.raises(ValueError, match=rf"{field} \({flag}\) must be a probability in \[0, 1\)"):
        LanguageModelConfig(vocab_size=VOCAB, **{field: 1.0})


def test_tying_with_another_last_layer_size_says_what_to_set():
    with pytest.raises(ValueError, match="set last_hidden_size=5"):
        LanguageModelConfig(vocab_size=VOCAB, hidden_size=7, embedding_size=5, tie_weights=True)


@pytest.mark.parametrize("overrides, match", [
    ({"ar": -1.0}, r"ar \(--alpha\) must be >= 0"),
    ({"tar": float("nan")}, r"tar \(--beta\) must be >= 0"),
    ({"weight_decay": -1e-6}, r"weight_decay \(--weight-decay\) must be >= 0"),
    ({"nonmono": -1}, r"nonmono \(--nonmono\) must be an int >= 0"),
    ({"loss_reduction": "avg"}, r"loss_reduction must be one of \('sum', 'mean'\)"),
])
def test_a_bad_training_value_names_its_flag(overrides, match):
    with pytest.raises(ValueError, match=match):
        LMTrainConfig(**overrides)


# --- the loss -----------------------------------------------------------------------------
@pytest.mark.parametrize("reduction, scale", [("sum", 4), ("mean", 1)])
def test_the_objective_is_nll_plus_ar_plus_tar_scaled_by_the_reduction(reduction, scale):
    model = tiny_model().train()
    ids, targets = torch.randint(0, VOCAB, (3, 4)), torch.randint(0, VOCAB, (3, 4))
    torch.manual_seed(5)
    step = model.run(ids)
    config = LMTrainConfig(ar=2.0, tar=1.0, loss_reduction=reduction)
    nll, objective = window_objective(step, targets, config)
    # the oracle: torch's cross-entropy and the regularisers written out
    oracle_nll = torch.nn.functional.cross_entropy(step.logits.reshape(-1, VOCAB),
                                                   targets.reshape(-1))
    ar = 2.0 * (step.dropped_output ** 2).mean()
    tar = ((step.last_output[:, 1:] - step.last_output[:, :-1]) ** 2).mean()
    torch.testing.assert_close(nll, oracle_nll)
    torch.testing.assert_close(objective, (oracle_nll + ar + tar) * scale)
    torch.testing.assert_close(activation_regularization(step.dropped_output, 2.0), ar)
    torch.testing.assert_close(temporal_activation_regularization(step.last_output, 1.0), tar)


def test_ar_without_the_last_layer_outputs_says_what_to_do():
    step = LMStep(torch.zeros(3, 4, VOCAB), ())  # what the torchrun wrapper returns
    with pytest.raises(ValueError, match="--alpha 0 --beta 0"):
        window_objective(step, torch.zeros(3, 4, dtype=torch.long), LMTrainConfig(ar=2.0))


def test_the_mean_loss_scales_each_windows_learning_rate_by_time_over_bptt():
    # AWD's eff_lr = lr · seq_len / bptt: one window of 6 steps with bptt 9 → lr · 2/3
    model = tiny_model(embedding_dropout=0.0, input_dropout=0.0, layer_dropout=0.0,
                       output_dropout=0.0, weight_dropout=0.0)
    streams = torch.randint(0, VOCAB, (3, 7))
    windows = VariableBPTTBatches(streams, (6,), bptt=9)
    config = LMTrainConfig(learning_rate=0.3, max_grad_norm=1e9, loss_reduction="mean", bptt=9)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model.zero_grad()
    token_nll(model.run(streams[:, :6]).logits, streams[:, 1:]).backward()
    gradients = {n: p.grad.clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
    train_epoch(model, windows, optimizer, 1e9, config=config)
    for name, parameter in model.named_parameters():
        expected = before[name] - 0.3 * 6 / 9 * gradients[name]
        torch.testing.assert_close(parameter.detach(), expected, rtol=1e-5, atol=1e-7)
    assert optimizer.param_groups[0]["lr"] == 0.3  # restored after the step


def test_variable_bptt_draws_per_epoch_from_the_seed():
    batches = TBPTTBatches.from_ids(torch.arange(3 * 400), 3, 70)
    config = LMTrainConfig(bptt=70, variable_bptt=True, seed=4)
    first, again = config.train_batches(batches, 1), config.train_batches(batches, 1)
    assert first.lengths == again.lengths
    assert first.lengths != config.train_batches(batches, 2).lengths
    assert LMTrainConfig(bptt=70).train_batches(batches, 1) is batches


# --- NT-ASGD in a run ---------------------------------------------------------------------
def awd_setup(epochs: int) -> tuple[LMCorpus, LanguageModelConfig, LMTrainConfig]:
    corpus = random_corpus()
    model_config = TINY.model_config(VOCAB)
    train_config = LMTrainConfig.from_preset(TINY, epochs=epochs, eval_batch_size=2, seed=3,
                                             nonmono=2)
    return corpus, model_config, train_config


def test_the_trigger_fires_at_the_hand_computed_epoch_of_a_scripted_validation(
        tmp_path, monkeypatch):
    # valid 150 140 135 136 141 … with n = 2: epoch 5 triggers (141 > min(150, 140))
    script = [150.0, 140.0, 135.0, 136.0, 141.0, 139.0, 138.0]
    seen_average = []

    def scripted_epoch(model, batches, valid_ids, optimizer, config, epoch, **kwargs):
        seen_average.append(kwargs["average"] is not None)
        return EpochMetrics(epoch=epoch, learning_rate=30.0, train_perplexity=200.0,
                            valid_perplexity=script[epoch - 1], seconds=0.0, train_tokens=1)

    monkeypatch.setattr(lm_run, "run_epoch", scripted_epoch)
    lines = []
    lm_run.train_language_model(*awd_setup(7), tmp_path, progress=False, log=lines.append)
    assert seen_average == [False] * 5 + [True] * 2  # averaging from epoch 6 on
    assert json.loads((tmp_path / "history.json").read_text())["nt_asgd_trigger_epoch"] == 5
    assert any("averaging from epoch 6 on" in line for line in lines)


@pytest.mark.parametrize("split, total", [(1, 2), (2, 3)])
def test_resume_with_averaging_continues_to_identical_numbers(tmp_path, monkeypatch, split,
                                                              total):
    # Averaging forced to start after epoch 1, so the resumed epochs need the saved average.
    monkeypatch.setattr(lm_run, "should_trigger", lambda earlier, score, n: not earlier)
    straight = lm_run.train_language_model(*awd_setup(total), tmp_path / "straight",
                                           progress=False, log=quiet)
    lm_run.train_language_model(*awd_setup(split), tmp_path / "split", progress=False,
                                log=quiet)
    torch.manual_seed(12345)  # the global RNG in between must not matter
    resumed = lm_run.train_language_model(*awd_setup(total), tmp_path / "split", resume=True,
                                          progress=False, log=quiet)
    assert [r.without_timing() for r in resumed.history] == [
        r.without_timing() for r in straight.history]
    assert resumed.test.total_nll == straight.test.total_nll
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    for key in ("model", "iterate"):
        assert a[key].keys() == b[key].keys()
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    assert a["nt_asgd"]["count"] == b["nt_asgd"]["count"] > 0
    # the checkpoint's model is the average, not the last iterate; load_run reads the average
    assert not torch.equal(a["model"]["decoder.bias"], a["iterate"]["decoder.bias"])
    run = load_run(tmp_path / "straight", "language_model")
    assert torch.equal(run.model.decoder.bias, a["model"]["decoder.bias"])


def test_a_run_saved_before_the_awd_fields_still_resumes(tmp_path):
    corpus = random_corpus()
    model_config = LanguageModelConfig(vocab_size=VOCAB, hidden_size=6)
    config = LMTrainConfig(batch_size=3, bptt=6, epochs=1, eval_batch_size=2)
    lm_run.train_language_model(corpus, model_config, config, tmp_path, progress=False,
                                log=quiet)
    saved = load_checkpoint(tmp_path / "checkpoint.pt")
    new_model_keys = ("embedding_dropout", "input_dropout", "layer_dropout", "output_dropout",
                      "weight_dropout", "last_hidden_size", "embedding_init_scale")
    new_train_keys = ("weight_decay", "ar", "tar", "loss_reduction", "variable_bptt",
                      "nt_asgd", "nonmono")
    for key in new_model_keys:
        del saved["model_config"][key]
    for key in new_train_keys:
        del saved["train_config"][key]
    save_checkpoint(tmp_path / "checkpoint.pt", saved)
    result = lm_run.train_language_model(corpus, model_config, replace(config, epochs=2),
                                         tmp_path, resume=True, progress=False, log=quiet)
    assert len(result.history) == 2
