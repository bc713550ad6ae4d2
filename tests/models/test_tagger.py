"""The tagger: learns a grammar only context resolves, ignores padding, takes any cell."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.models.char_features import CharBiLSTM, CharCNN
from rnnlab.models.tagger import Tagger, TaggerConfig
from rnnlab.train.tagger_data import TaggerVocabs, encode_tagging
from rnnlab.train.tagger_eval import predict_encoded
from rnnlab.train.tagger_report import most_frequent_tag_baseline, score_tags
from tests.models.tagging_grammar import grammar_dataset

TINY = {"word_embedding_size": 8, "char_embedding_size": 5, "char_size": 6, "hidden_size": 12,
        "dropout": 0.0}


def tiny_tagger(vocabs: TaggerVocabs, seed: int = 0, **options) -> Tagger:
    config = TaggerConfig(vocab_size=len(vocabs.words), num_chars=len(vocabs.chars),
                          num_tags=len(vocabs.tags), **{**TINY, **options})
    return Tagger(config, seed=seed)


def train_steps(model: Tagger, encoded, steps: int, batch_size: int = 16) -> None:
    """A plain Adam loop over the model's own loss, independent of rnnlab's run machinery."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    rng = np.random.default_rng(0)
    model.train()
    for _ in range(steps):
        batch = encoded.batch(rng.choice(len(encoded), size=batch_size, replace=False))
        optimizer.zero_grad()
        emissions = model(batch["word_ids"], batch["char_ids"], batch["lengths"])
        model.loss(emissions, batch["tag_ids"], batch["lengths"]).backward()
        optimizer.step()


@pytest.mark.parametrize("options", [{"crf": False}, {"crf": True},
                                     {"cell": "gru", "char_features": "lstm"}])
def test_tagger_learns_a_context_dependent_grammar_to_100_percent(options):
    data = grammar_dataset()
    vocabs = TaggerVocabs.fit(data.train, data.tag_names)
    train = encode_tagging(data.train, vocabs)
    test = encode_tagging(data.test, vocabs)
    baseline = score_tags(test.tags, most_frequent_tag_baseline(data.train, data.test,
                                                                vocabs.tags),
                          [np.ones(n, bool) for n in test.lengths], vocabs.tags)
    assert baseline.accuracy < 0.95  # word identity alone cannot tag "fly", "can", "fish"
    model = tiny_tagger(vocabs, **options)
    train_steps(model, train, steps=100)  # 100 % from step ~20 on (measured)
    predicted = predict_encoded(model, test)
    scores = score_tags(test.tags, predicted, [np.ones(n, bool) for n in test.lengths],
                        vocabs.tags)
    assert scores.accuracy == 1.0


@pytest.mark.parametrize("crf", [False, True])
def test_a_sentence_gets_the_same_tags_alone_and_padded_in_a_batch(crf):
    data = grammar_dataset(train=20)
    vocabs = TaggerVocabs.fit(data.train, data.tag_names)
    model = tiny_tagger(vocabs, seed=3, crf=crf, dropout=0.3).eval()
    encoded = encode_tagging(data.test[:6], vocabs)
    batch = encoded.batch(np.arange(6))
    together = model(batch["word_ids"], batch["char_ids"], batch["lengths"])
    for row in range(6):
        alone = encoded.batch(np.array([row]))
        single = model(alone["word_ids"], alone["char_ids"], alone["lengths"])
        n = int(batch["lengths"][row])
        assert torch.allclose(together[row, :n], single[0], atol=1e-6)
        assert torch.equal(model.predict(together, batch["lengths"])[row, :n],
                           model.predict(single, alone["lengths"])[0])


def test_same_seed_same_weights_other_seed_other_weights():
    vocabs = TaggerVocabs.fit(grammar_dataset(train=10).train, grammar_dataset().tag_names)
    first, again, other = (tiny_tagger(vocabs, seed=s).state_dict() for s in (1, 1, 2))
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["embedding.weight"], other["embedding.weight"])


def test_char_cnn_max_never_reads_padding_characters():
    cnn = CharCNN(num_chars=9, embedding_size=4, filters=5, width=3)
    word = torch.tensor([[3, 4, 5]])
    padded = torch.tensor([[3, 4, 5, 0, 0, 0]])
    assert torch.allclose(cnn(word), cnn(padded), atol=1e-6)
    assert torch.equal(cnn(torch.zeros(1, 4, dtype=torch.long)), torch.zeros(1, 5))


def test_char_bilstm_reads_only_the_real_characters():
    encoder = CharBiLSTM(num_chars=9, embedding_size=4, hidden_size=6, cell="lstm")
    out = encoder(torch.tensor([[3, 4, 5, 0], [3, 4, 5, 6]]))
    assert out.shape == (2, 12)
    assert torch.allclose(out[0], encoder(torch.tensor([[3, 4, 5]]))[0], atol=1e-6)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("char_features", "rnn", r"char_features must be one of \['cnn', 'lstm', 'none'\]"),
    ("cell", "transformer", "cell must be one of"),
    ("dropout", 1.0, r"dropout must be in \[0, 1\)"),
    ("hidden_size", 0, "hidden_size must be an int >= 1, got 0"),
    ("crf", "yes", "crf must be true or false"),
])
def test_bad_config_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        TaggerConfig(vocab_size=5, num_chars=5, num_tags=3, **{field: value})


def test_word_ids_outside_the_vocabulary_are_refused():
    vocabs = TaggerVocabs.fit(grammar_dataset(train=10).train, grammar_dataset().tag_names)
    model = tiny_tagger(vocabs)
    with pytest.raises(ValueError, match="encode the text with the vocabulary"):
        model(torch.tensor([[len(vocabs.words)]]), torch.ones(1, 1, 2, dtype=torch.long),
              torch.tensor([1]))
