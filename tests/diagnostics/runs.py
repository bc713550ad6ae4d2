"""Tiny trained run directories for the state explorer's tests.

``planted_lm_run``: a character LM run (``rnnlab lm train``'s format) over
:data:`tests.diagnostics.planted.CHARACTERS` whose LSTM unit 3 is then hand-set to be the
quote indicator (see ``planted.py``), saved back as a valid checkpoint.
``word_lm_run`` and ``classifier_run``: trained for real, tiny.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.data import LMCorpus, Vocab
from rnnlab.models.language_model import LanguageModelConfig
from rnnlab.train import load_checkpoint, load_run, save_checkpoint, train_classifier
from rnnlab.train.lm_loop import LMTrainConfig
from rnnlab.train.lm_run import train_language_model
from tests.diagnostics.planted import CHARACTERS, plant_quote_unit
from tests.train.helpers import synthetic_data, tiny_config


def _train_lm(out: Path, vocab: Vocab, hidden: int, layers: int) -> None:
    ids = np.arange(90, dtype=np.int64) % (len(vocab) - 2) + 2
    corpus = LMCorpus(ids[:60], ids[:30], ids[:30], vocab)
    train_language_model(corpus, LanguageModelConfig(vocab_size=len(vocab), hidden_size=hidden,
                                                     num_layers=layers),
                         LMTrainConfig(batch_size=2, bptt=5, epochs=1, eval_batch_size=2),
                         out, progress=False, log=lambda _: None)


def planted_lm_run(out: Path) -> Path:
    vocab = Vocab(("<unk>", "<eos>", *CHARACTERS), pad_token=None)
    _train_lm(out, vocab, hidden=8, layers=1)
    model = load_run(out).model
    plant_quote_unit(model.embedding.weight, model.rnn, vocab.token_to_id('"'))
    payload = load_checkpoint(out / "checkpoint.pt")
    payload["model"] = {name: value.clone() for name, value in model.state_dict().items()}
    save_checkpoint(out / "checkpoint.pt", payload)
    return out


def word_lm_run(out: Path) -> Path:
    vocab = Vocab(("<unk>", "<eos>", "The", "the", "cat", "sat", "``", "''", ".", "said"),
                  pad_token=None)
    _train_lm(out, vocab, hidden=6, layers=2)
    return out


def classifier_run(out: Path, **overrides) -> Path:
    data = synthetic_data()
    train_classifier(tiny_config(data, **overrides), data, seed=0, out_dir=out, epochs=1,
                     progress=False)
    return out
