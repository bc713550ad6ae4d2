import numpy as np
import pytest
import torch

from rnnlab.data import BucketBatchSampler, BucketConfig, DataError, batch_tensors, bucket_batches

LENGTHS = np.random.default_rng(123).integers(1, 200, size=1003)


def test_every_example_appears_exactly_once():
    batches = bucket_batches(LENGTHS, BucketConfig(batch_size=32, pool_batches=4), seed=0)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(LENGTHS)))
    assert all(len(b) <= 32 for b in batches)


def test_same_seed_and_epoch_give_same_batches_and_others_differ():
    config = BucketConfig(batch_size=16)
    first = bucket_batches(LENGTHS, config, seed=7, epoch=2)
    again = bucket_batches(LENGTHS, config, seed=7, epoch=2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    for other in (
        bucket_batches(LENGTHS, config, seed=8, epoch=2),
        bucket_batches(LENGTHS, config, seed=7, epoch=3),
    ):
        assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=False))


def test_bucketing_reduces_length_spread_within_batches():
    def mean_spread(batches):
        return np.mean([np.ptp(LENGTHS[b]) for b in batches])

    bucketed = bucket_batches(LENGTHS, BucketConfig(batch_size=32, pool_batches=10))
    random = bucket_batches(LENGTHS, BucketConfig(batch_size=32, pool_batches=1))
    assert mean_spread(bucketed) < 0.3 * mean_spread(random)


def test_drop_last_keeps_only_full_batches():
    batches = bucket_batches(
        np.arange(10), BucketConfig(batch_size=4, pool_batches=100, drop_last=True)
    )
    assert [len(b) for b in batches] == [4, 4]


def test_no_shuffle_gives_sorted_pools_in_input_order():
    lengths = [5, 1, 4, 2, 3, 0]
    batches = bucket_batches(lengths, BucketConfig(batch_size=2, pool_batches=3, shuffle=False))
    # one pool of 6, sorted by length: idx 5(0) 1(1) 3(2) 4(3) 2(4) 0(5)
    assert [b.tolist() for b in batches] == [[5, 1], [3, 4], [2, 0]]


@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_length_matches_its_batches(drop_last):
    config = BucketConfig(batch_size=10, pool_batches=3, drop_last=drop_last)
    sampler = BucketBatchSampler(LENGTHS, config, seed=1)
    sampler.set_epoch(4)
    batches = list(sampler)
    assert len(sampler) == len(batches)
    assert batches[0] == bucket_batches(LENGTHS, config, seed=1, epoch=4)[0].tolist()


def test_invalid_batch_size_is_rejected():
    with pytest.raises(DataError, match="batch_size"):
        BucketConfig(batch_size=0)


def test_batch_tensors_trims_pre_padding_from_the_left():
    ids = np.array([[0, 0, 0, 5], [0, 0, 6, 7], [1, 2, 3, 4]])
    lengths = np.array([1, 2, 4])
    labels = np.array([0, 1, 1])
    batch_ids, batch_lengths, batch_labels = batch_tensors(ids, lengths, labels, np.array([1, 0]))
    assert batch_ids.tolist() == [[6, 7], [0, 5]]
    assert batch_lengths.tolist() == [2, 1]
    assert batch_labels.tolist() == [1, 0]
    assert batch_ids.dtype == torch.int64


def test_batch_tensors_trims_post_padding_from_the_right():
    ids = np.array([[5, 0, 0, 0], [6, 7, 0, 0]])
    batch_ids, _, labels = batch_tensors(ids, np.array([1, 2]), None, np.array([0, 1]), "post")
    assert batch_ids.tolist() == [[5, 0], [6, 7]]
    assert labels is None
