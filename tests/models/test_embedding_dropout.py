"""Embedding dropout: whole vocabulary rows dropped for the batch, kept rows rescaled."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnlab.models.embedding_dropout import embedding_dropout

VOCAB, EMBEDDING = 7, 5


def make_embedding() -> nn.Embedding:
    torch.manual_seed(0)
    return nn.Embedding(VOCAB, EMBEDDING)


def every_word_twice() -> torch.Tensor:
    return torch.tensor([[0, 1, 2, 3], [4, 5, 6, 0], [1, 2, 3, 4], [5, 6, 6, 2]])  # (4, 4)


@pytest.mark.parametrize("p", [0.3, 0.5, 0.8])
def test_a_word_is_zero_everywhere_or_its_row_scaled_by_one_over_keep(p):
    embedding, ids = make_embedding(), every_word_twice()
    torch.manual_seed(1)
    out = embedding_dropout(ids, embedding, p, training=True)  # (batch, time, embedding)
    weight = embedding.weight.detach()
    for word in range(VOCAB):
        rows = out[ids == word]  # every occurrence of the word in the batch
        if torch.count_nonzero(rows):  # kept: the stored row / (1 - p) at every occurrence
            torch.testing.assert_close(rows, (weight[word] / (1 - p)).expand_as(rows))


def test_about_p_of_the_vocabulary_is_dropped():
    embedding = nn.Embedding(4000, 3)
    ids = torch.arange(4000).view(1, -1)
    out = embedding_dropout(ids, embedding, 0.3, True, torch.Generator().manual_seed(0))
    dropped = float((out.abs().sum(-1) == 0).float().mean())
    assert dropped == pytest.approx(0.3, abs=0.03)  # binomial sd 0.007


def test_the_same_seed_draws_the_same_words_and_the_weight_is_untouched():
    embedding, ids = make_embedding(), every_word_twice()
    before = embedding.weight.detach().clone()
    first = embedding_dropout(ids, embedding, 0.5, True, torch.Generator().manual_seed(3))
    second = embedding_dropout(ids, embedding, 0.5, True, torch.Generator().manual_seed(3))
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(embedding.weight.detach(), before, rtol=0, atol=0)


def test_gradients_reach_only_the_kept_rows():
    embedding, ids = make_embedding(), every_word_twice()
    torch.manual_seed(2)
    out = embedding_dropout(ids, embedding, 0.5, training=True)
    out.sum().backward()
    kept = [word for word in range(VOCAB) if torch.count_nonzero(out[ids == word])]
    for word in range(VOCAB):
        has_gradient = bool(torch.count_nonzero(embedding.weight.grad[word]))
        assert has_gradient == (word in kept), word


@pytest.mark.parametrize("training, p", [(False, 0.5), (True, 0.0)])
def test_off_it_is_the_plain_lookup_through_the_module(training, p):
    embedding, ids = make_embedding(), every_word_twice()
    calls = []
    embedding.register_forward_hook(lambda *_: calls.append(1))  # the leak audit's hook
    out = embedding_dropout(ids, embedding, p, training)
    torch.testing.assert_close(out, embedding.weight[ids], rtol=0, atol=0)
    assert calls == [1]


@pytest.mark.parametrize("p", [-0.1, 1.0, True])
def test_a_rate_outside_zero_one_is_refused(p):
    with pytest.raises(ValueError, match=r"embedding_dropout must be in \[0, 1\)"):
        embedding_dropout(every_word_twice(), make_embedding(), p, True)
