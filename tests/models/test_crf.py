"""The CRF against brute force: every one of tags^n paths scored by an independent loop."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnlab.models.crf import CRF

BATCH, TIME, TAGS = 3, 4, 3
LENGTHS = [4, 2, 1]


def random_crf(seed: int) -> tuple[CRF, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    crf = CRF(TAGS)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    emissions = torch.randn(BATCH, TIME, TAGS, generator=generator, dtype=torch.float64)
    return crf.double(), emissions


def path_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> float:
    """The CRF score of one path, written from the definition with scalar arithmetic."""
    start, end = crf.start.tolist(), crf.end.tolist()
    transitions, emitted = crf.transitions.tolist(), emissions.tolist()
    total = start[path[0]] + end[path[-1]]
    for t, tag in enumerate(path):
        total += emitted[t][tag]
        if t:
            total += transitions[path[t - 1]][tag]
    return total


def all_paths(length: int):
    return itertools.product(range(TAGS), repeat=length)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_partition_equals_logsumexp_over_all_paths(seed):
    crf, emissions = random_crf(seed)
    log_z = crf.log_partition(emissions, torch.tensor(LENGTHS))
    for row, length in enumerate(LENGTHS):
        scores = [path_score(crf, emissions[row], p) for p in all_paths(length)]
        peak = max(scores)
        expected = peak + math.log(sum(math.exp(s - peak) for s in scores))
        assert float(log_z.detach()[row]) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_score_of_given_paths_matches_definition_and_ignores_padding_tags(seed):
    crf, emissions = random_crf(seed)
    generator = torch.Generator().manual_seed(seed + 10)
    tags = torch.randint(0, TAGS, (BATCH, TIME), generator=generator)
    scores = crf.score(emissions, tags, torch.tensor(LENGTHS))
    for row, length in enumerate(LENGTHS):
        path = tuple(int(t) for t in tags[row, :length])
        assert float(scores.detach()[row]) == pytest.approx(path_score(crf, emissions[row], path))
    changed = tags.clone()
    changed[1, 2:] = (changed[1, 2:] + 1) % TAGS  # padding of row 1
    assert torch.equal(crf.score(emissions, changed, torch.tensor(LENGTHS)), scores)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_viterbi_finds_the_brute_force_best_path_and_its_score(seed):
    crf, emissions = random_crf(seed)
    paths, scores = crf.decode(emissions, torch.tensor(LENGTHS))
    for row, length in enumerate(LENGTHS):
        best = max(all_paths(length), key=lambda p: path_score(crf, emissions[row], p))
        assert tuple(paths[row, :length].tolist()) == best
        assert paths[row, length:].tolist() == [0] * (TIME - length)
        assert float(scores[row]) == pytest.approx(path_score(crf, emissions[row], best))


def test_probabilities_of_all_paths_sum_to_one():
    crf, emissions = random_crf(5)
    lengths = torch.tensor(LENGTHS)
    for row, length in enumerate(LENGTHS):
        total = 0.0
        for path in all_paths(length):
            tags = torch.zeros(BATCH, TIME, dtype=torch.long)
            tags[row, :length] = torch.tensor(path)
            nll = crf.neg_log_likelihood(emissions, tags, lengths).detach()
            total += math.exp(-nll[row].item())
        assert total == pytest.approx(1.0, abs=1e-9)


def test_padded_emissions_change_nothing():
    crf, emissions = random_crf(7)
    lengths = torch.tensor(LENGTHS)
    noisy = emissions.clone()
    noisy[1, 2:] = 1e6
    noisy[2, 1:] = -1e6
    assert torch.allclose(crf.log_partition(noisy, lengths), crf.log_partition(emissions, lengths))
    assert torch.equal(crf.decode(noisy, lengths)[0], crf.decode(emissions, lengths)[0])


def test_nll_gradient_reaches_transitions():
    crf, emissions = random_crf(3)
    tags = torch.zeros(BATCH, TIME, dtype=torch.long)
    crf.neg_log_likelihood(emissions, tags, torch.tensor(LENGTHS)).sum().backward()
    assert crf.transitions.grad is not None and crf.transitions.grad.abs().sum() > 0


@pytest.mark.parametrize("lengths", [[4, 0, 1], [5, 2, 1], [4, 2]])
def test_bad_lengths_are_refused_with_the_allowed_range(lengths):
    crf, emissions = random_crf(0)
    with pytest.raises(ValueError, match=r"lengths must be \(batch,\) = \(3,\) values in \[1, 4\]"):
        crf.log_partition(emissions, torch.tensor(lengths))


def test_emissions_of_the_wrong_width_are_refused():
    with pytest.raises(ValueError, match=r"emissions must be \(batch, time, 3\)"):
        CRF(3).decode(torch.zeros(2, 4, 5), torch.tensor([4, 4]))
