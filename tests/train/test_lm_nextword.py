"""Training seed 000's next-word model: targets, accuracy, and that the leak is exploitable."""

from __future__ import annotations

import pytest
import torch

from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from rnnlab.train.lm_nextword import (
    NextWordConfig,
    NextWordData,
    direction_targets,
    encode_reviews,
    epoch_batches,
    next_word_accuracy,
    next_word_loss,
    next_word_vocab,
    train_next_word,
)


def test_reviews_become_bos_words_eos_post_padded():
    tokens = [["the", "film", "was", "bad"], ["good"]]
    vocab = next_word_vocab(tokens, max_size=20)
    assert vocab.tokens[:4] == ("<pad>", "<unk>", "<s>", "</s>")
    data = encode_reviews(tokens, vocab, max_tokens=3)  # "bad" is cut
    assert data.lengths.tolist() == [5, 3]
    assert vocab.decode(data.ids[0].tolist()) == ["<s>", "the", "film", "was", "</s>"]
    assert vocab.decode(data.ids[1].tolist()) == ["<s>", "good", "</s>"]
    assert data.ids[1, 3:].tolist() == [0, 0]


def test_direction_targets_match_the_module_diagram():
    # ids: <s>=2 the=4 film=5 was=6 </s>=3 <pad>=0 (as in lm_nextword's docstring)
    ids = torch.tensor([[2, 4, 5, 6, 3, 0]])
    targets = direction_targets(ids, torch.tensor([5]))
    forward_targets, forward_mask = targets["forward"]
    backward_targets, backward_mask = targets["backward"]
    assert forward_targets[forward_mask].tolist() == [4, 5, 6, 3]
    assert forward_mask.tolist() == [[True, True, True, True, False, False]]
    assert backward_targets[backward_mask].tolist() == [2, 4, 5, 6]
    assert backward_mask.tolist() == [[False, True, True, True, True, False]]


def random_data(count: int, time: int, vocab: int, seed: int) -> NextWordData:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (count, time), generator=generator)
    return NextWordData(ids, torch.full((count,), time))


def train_on_random_tokens(**flags) -> dict[str, float]:
    """Uniform random tokens: no model can beat 1/vocab honestly; anything above is a leak."""
    vocab = 20
    torch.manual_seed(0)
    model = BidirectionalLM(BidirectionalLMConfig(vocab_size=vocab, embedding_size=8,
                                                  hidden_size=32, **flags))
    config = NextWordConfig(epochs=3, batch_size=16, learning_rate=5e-3)
    train_next_word(model, random_data(800, 12, vocab, 0), random_data(16, 12, vocab, 1), config)
    return next_word_accuracy(model, random_data(200, 12, vocab, 2))


def test_the_fixed_model_cannot_predict_random_tokens():
    accuracy = train_on_random_tokens()
    assert accuracy["forward"] < 0.08 and accuracy["backward"] < 0.08  # chance is 0.05


def test_the_seed_bug_predicts_random_tokens_perfectly():
    accuracy = train_on_random_tokens(leaky=True)
    assert accuracy["backward"] > 0.8  # chance is 0.05
    assert accuracy["forward"] < 0.08  # the forward direction has no bug


def test_the_lstm1_leak_alone_already_beats_chance_on_random_tokens():
    # Only LSTM1's output unflipped: the target sits |2t - T| steps back in LSTM1's memory,
    # harder to learn than the seed's lag-1 copy, but any accuracy above chance is a leak.
    accuracy = train_on_random_tokens(leaky_lstm1_only=True)
    assert accuracy["backward"] > 0.1  # chance 0.05; the fixed model stays near it
    assert accuracy["forward"] < 0.08


def test_one_step_lowers_the_loss_of_both_directions():
    torch.manual_seed(0)
    model = BidirectionalLM(BidirectionalLMConfig(vocab_size=9, embedding_size=4, hidden_size=5))
    data = random_data(4, 6, 9, 0)
    lengths = torch.tensor([6, 5, 3, 2])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        loss = next_word_loss(model(data.ids, lengths=lengths), data.ids, lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[1] < losses[0]


def ragged_texts(count: int = 96) -> NextWordData:
    """``count`` texts of lengths 2..60 in random order, each row's ids = its row number."""
    lengths = torch.randint(2, 61, (count,), generator=torch.Generator().manual_seed(1))
    ids = torch.arange(count)[:, None].expand(count, 60).clone()
    ids[torch.arange(60)[None, :] >= lengths[:, None]] = 0
    return NextWordData(ids, lengths)


def padded_steps(batches) -> int:
    return sum(ids.numel() for ids, _ in batches)


@pytest.mark.parametrize("pool", [1, 4])
def test_an_epoch_covers_every_text_once_each_batch_cut_to_its_longest(pool):
    data = ragged_texts()
    batches = epoch_batches(data, 8, pool, torch.Generator().manual_seed(0))
    rows = torch.cat([ids[:, 0] for ids, _ in batches])  # column 0 holds the row number
    assert sorted(rows.tolist()) == list(range(96))
    for ids, lengths in batches:
        assert ids.shape[1] == int(lengths.max())
        assert torch.equal(lengths, data.lengths[ids[:, 0]])
        assert torch.equal(ids, data.ids[ids[:, 0]][:, : ids.shape[1]])


def test_bucketing_computes_less_padding_and_stays_seeded():
    data = ragged_texts()
    real = int(data.lengths.sum())
    shuffled = epoch_batches(data, 8, 1, torch.Generator().manual_seed(0))
    bucketed = epoch_batches(data, 8, 12, torch.Generator().manual_seed(0))  # one pool: all
    assert padded_steps(bucketed) < 0.75 * padded_steps(shuffled)
    assert padded_steps(bucketed) < 1.1 * real
    again = epoch_batches(data, 8, 12, torch.Generator().manual_seed(0))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(bucketed, again, strict=True))
    generator = torch.Generator().manual_seed(0)
    first, second = (epoch_batches(data, 8, 12, generator) for _ in range(2))
    assert [ids[:, 0].tolist() for ids, _ in first] != [ids[:, 0].tolist() for ids, _ in second]


def test_bucket_pool_batches_is_checked():
    with pytest.raises(ValueError, match="bucket_pool_batches must be an int >= 1, got 0"):
        NextWordConfig(bucket_pool_batches=0)
