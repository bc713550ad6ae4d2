"""The TBPTT training loop and LM runs: carried and detached state, learning, exact resume."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest
import torch

from rnnlab.data import LMCorpus, Vocab
from rnnlab.data.tbptt import TBPTTBatches, detach_state
from rnnlab.models.language_model import LanguageModel, LanguageModelConfig, token_nll
from rnnlab.train import SavedLMRun, load_run
from rnnlab.train.checkpoint import load_checkpoint
from rnnlab.train.divergence import TrainingDivergedError
from rnnlab.train.lm_loop import LMTrainConfig, evaluate, train_epoch
from rnnlab.train.lm_run import train_language_model

VOCAB, HIDDEN = 7, 6


def make_model(**overrides) -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(LanguageModelConfig(vocab_size=VOCAB, hidden_size=HIDDEN, **overrides))


def random_ids(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, VOCAB, (n,), generator=torch.Generator().manual_seed(seed))


def pattern_corpus(train_tokens: int = 300) -> LMCorpus:
    """A deterministic cycle 2 3 4 5 6 2 3 ... that a small LSTM learns perfectly."""
    vocab = Vocab(("<unk>", "<eos>", "a", "b", "c", "d", "e"), pad_token=None)
    cycle = np.arange(train_tokens + 60, dtype=np.int64) % 5 + 2
    return LMCorpus(cycle[:train_tokens], cycle[:40], cycle[:20], vocab)


def quiet(_: str) -> None:
    pass


# --- the state between windows ----------------------------------------------------------------
def test_final_state_of_window_k_is_the_initial_state_of_window_k_plus_1_detached():
    model = make_model()
    batches = TBPTTBatches.from_ids(random_ids(61), batch=3, bptt=4)  # rows of 20: 5 windows
    seen = []
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train_epoch(model, batches, optimizer, 5.0,
                on_window=lambda k, initial, final: seen.append((k, initial, final)))
    assert [k for k, _, _ in seen] == list(range(len(batches))) == [0, 1, 2, 3, 4]
    assert all(torch.count_nonzero(part) == 0 for part in seen[0][1])  # zero at the start
    for (_, _, final), (_, initial, _) in pairwise(seen):
        for final_part, initial_part in zip(final, initial):
            assert initial_part is final_part  # carried as is ...
            assert initial_part.grad_fn is None and not initial_part.requires_grad  # ... detached
            assert torch.count_nonzero(initial_part) > 0


def test_no_gradient_flows_from_a_window_into_the_previous_one():
    model = make_model()
    ids = random_ids(9).view(1, 9)
    first = model.run(ids[:, :4])
    attached = first.state
    second = model.run(ids[:, 4:8], detach_state(attached))
    loss = token_nll(second.logits, ids[:, 5:9])
    gradients = torch.autograd.grad(loss, attached, allow_unused=True)
    assert gradients == (None, None)
    # without detaching it would have flowed (the test can tell the difference)
    leaky = model.run(ids[:, 4:8], attached)
    gradients = torch.autograd.grad(token_nll(leaky.logits, ids[:, 5:9]), attached[0])
    assert gradients[0].abs().sum() > 0


def test_evaluation_with_carried_state_equals_reading_the_stream_at_once():
    model = make_model().eval()
    ids = random_ids(23)
    score = evaluate(model, ids, batch_size=1, bptt=4)  # 6 windows, state carried
    with torch.no_grad():
        whole = token_nll(model(ids[None, :-1]), ids[None, 1:])
    assert score.tokens == 22
    assert score.mean_nll == pytest.approx(float(whole), rel=1e-5)


# --- learning ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "cifg"])
def test_one_training_step_lowers_the_loss_on_its_batch(cell):
    model = make_model(cell=cell)
    ids = random_ids(40).view(4, 10)
    with torch.no_grad():
        before = float(token_nll(model(ids[:, :-1]), ids[:, 1:]))
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    train_epoch(model, TBPTTBatches(ids, bptt=9), optimizer, 5.0)
    with torch.no_grad():
        after = float(token_nll(model(ids[:, :-1]), ids[:, 1:]))
    assert after < before


def test_training_overfits_a_tiny_corpus(tmp_path):
    corpus = pattern_corpus()
    config = LMTrainConfig(batch_size=4, bptt=10, learning_rate=1.0, decay_after=100,
                           epochs=30, eval_batch_size=2)
    model_config = LanguageModelConfig(vocab_size=len(corpus.vocab), hidden_size=16)
    result = train_language_model(corpus, model_config, config, tmp_path, progress=False,
                                  log=quiet)
    history = result.history
    assert history[0].train_perplexity > 3.0
    assert history[-1].train_perplexity < 1.3
    assert result.valid.perplexity < 1.3
    assert result.test.perplexity < 1.3


def test_learning_rate_follows_the_schedule(tmp_path):
    config = LMTrainConfig(batch_size=2, bptt=5, learning_rate=1.0, lr_decay=0.5,
                           decay_after=1, epochs=3)
    model_config = LanguageModelConfig(vocab_size=7, hidden_size=4)
    result = train_language_model(pattern_corpus(40), model_config, config, tmp_path,
                                  progress=False, log=quiet)
    assert [row.learning_rate for row in result.history] == [1.0, 0.5, 0.25]


# --- checkpoints and resume -------------------------------------------------------------------
def resume_setup(epochs: int) -> tuple[LMCorpus, LanguageModelConfig, LMTrainConfig]:
    corpus = pattern_corpus(120)
    # dropout > 0 so the RNG state matters for an exact resume
    model_config = LanguageModelConfig(vocab_size=7, hidden_size=8, dropout=0.3)
    config = LMTrainConfig(batch_size=3, bptt=6, learning_rate=0.5, lr_decay=0.5,
                           decay_after=2, epochs=epochs, eval_batch_size=2, seed=3)
    return corpus, model_config, config


def test_resume_continues_to_identical_numbers(tmp_path):
    straight = train_language_model(*resume_setup(4), tmp_path / "straight", progress=False,
                                    log=quiet)
    train_language_model(*resume_setup(2), tmp_path / "split", progress=False, log=quiet)
    torch.manual_seed(12345)  # whatever happened to the global RNG in between must not matter
    resumed = train_language_model(*resume_setup(4), tmp_path / "split", resume=True,
                                   progress=False, log=quiet)

    def without_time(history):
        return [row.without_timing() for row in history]

    assert without_time(resumed.history) == without_time(straight.history)
    assert resumed.test.total_nll == straight.test.total_nll
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "split" / "checkpoint.pt")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_is_written_every_epoch_with_config_and_history(tmp_path):
    corpus, model_config, config = resume_setup(2)
    train_language_model(corpus, model_config, config, tmp_path, progress=False, log=quiet)
    saved = load_checkpoint(tmp_path / "checkpoint.pt")
    assert saved["epoch"] == 2 and len(saved["history"]) == 2
    assert saved["model_config"]["dropout"] == 0.3 and saved["train_config"]["seed"] == 3
    assert saved["vocab"]["tokens"] == list(corpus.vocab.tokens)
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["epochs"]) == 2 and history["final"]["test_perplexity"] > 1
    # the keys earlier versions wrote, in their order (older runs must keep loading)
    keys = ["epoch", "learning_rate", "train_perplexity", "valid_perplexity", "seconds",
            "train_tokens"]
    assert [list(row) for row in saved["history"]] == [keys, keys]
    assert [list(row) for row in history["epochs"]] == [keys, keys]
    run = load_run(tmp_path)
    assert isinstance(run, SavedLMRun) and run.kind == "language_model"
    assert not run.model.training and run.train_config == config
    assert run.model_config == model_config and run.vocab.tokens == corpus.vocab.tokens
    assert [row.to_dict() for row in run.history] == saved["history"]


def test_an_existing_run_needs_resume_and_a_matching_config(tmp_path):
    corpus, model_config, config = resume_setup(1)
    train_language_model(corpus, model_config, config, tmp_path, progress=False, log=quiet)
    with pytest.raises(ValueError, match="resume"):
        train_language_model(corpus, model_config, config, tmp_path, progress=False, log=quiet)
    other = LanguageModelConfig(vocab_size=7, hidden_size=9, dropout=0.3)
    with pytest.raises(ValueError, match="model config differs"):
        train_language_model(corpus, other, config, tmp_path, resume=True, progress=False,
                             log=quiet)


def test_train_config_from_preset_takes_the_training_half():
    from rnnlab.models.lm_presets import MEDIUM

    config = LMTrainConfig.from_preset(MEDIUM, epochs=2)
    assert (config.bptt, config.decay_after, config.epochs, config.batch_size) == (35, 6, 2, 20)
    assert config.lr_decay == pytest.approx(1 / 1.2)
    with pytest.raises(ValueError, match="bptt must be >= 1"):
        LMTrainConfig(bptt=0)


def test_a_diverging_language_model_raises_instead_of_reporting_inf(tmp_path):
    corpus = pattern_corpus()
    config = LMTrainConfig(batch_size=4, bptt=10, learning_rate=1e30, epochs=2,
                           eval_batch_size=2)
    model_config = LanguageModelConfig(vocab_size=len(corpus.vocab), hidden_size=6)
    with pytest.raises(TrainingDivergedError, match="training diverged.*--lr"):
        train_language_model(corpus, model_config, config, tmp_path, progress=False, log=quiet)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_a_split_too_short_to_score_is_refused_before_training(tmp_path):
    corpus = pattern_corpus()
    corpus = LMCorpus(corpus.train, corpus.valid, corpus.test[:2], corpus.vocab)
    config = LMTrainConfig(batch_size=4, bptt=10, epochs=1, eval_batch_size=2)
    model_config = LanguageModelConfig(vocab_size=len(corpus.vocab), hidden_size=6)
    with pytest.raises(ValueError, match=r"test split has 2 token\(s\).*eval_batch_size=2"):
        train_language_model(corpus, model_config, config, tmp_path / "run", progress=False,
                             log=quiet)
    assert not (tmp_path / "run").exists()
