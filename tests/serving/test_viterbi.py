"""NumPy Viterbi against the CRF's own (torch) decode and against brute-force enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from rnnlab.models.crf import CRF
from rnnlab.serving.viterbi import argmax_decode, viterbi_decode


def _crf(tags: int, seed: int) -> tuple[CRF, dict[str, list]]:
    crf = CRF(tags)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    scores = {name: getattr(crf, name).detach().tolist()
              for name in ("transitions", "start", "end")}
    return crf, scores


@pytest.mark.parametrize(("batch", "time", "tags"), [(3, 4, 5), (1, 1, 2), (6, 9, 4)])
def test_numpy_viterbi_equals_crf_decode(batch, time, tags):
    crf, scores = _crf(tags, seed=batch + time)
    generator = torch.Generator().manual_seed(time)
    emissions = torch.randn(batch, time, tags, generator=generator)
    lengths = torch.tensor(([time, 1] + [max(1, time - 2)] * batch)[:batch])
    want_paths, want_scores = crf.decode(emissions, lengths)
    paths, path_scores = viterbi_decode(emissions.numpy(), lengths.numpy(), scores)
    np.testing.assert_array_equal(paths, want_paths.numpy())
    np.testing.assert_allclose(path_scores, want_scores.numpy(), rtol=0, atol=1e-6)


def test_numpy_viterbi_finds_the_brute_force_best_path():
    """Every one of the 3^4 paths of a length-4 row scored by hand (crf.py's s(y))."""
    _, scores = _crf(3, seed=11)
    emissions = np.random.default_rng(0).standard_normal((1, 5, 3)).astype(np.float32)
    transitions, start, end = (np.array(scores[k]) for k in ("transitions", "start", "end"))

    def score(path):
        total = start[path[0]] + end[path[-1]] + sum(emissions[0, t, y] for t, y in
                                                      enumerate(path))
        return total + sum(transitions[a, b] for a, b in itertools.pairwise(path))

    best = max(itertools.product(range(3), repeat=4), key=score)
    paths, path_scores = viterbi_decode(emissions, np.array([4]), scores)
    assert tuple(paths[0, :4]) == best and paths[0, 4] == 0  # 0 at the padded step
    assert path_scores[0] == pytest.approx(score(best), abs=1e-5)


def test_argmax_decode_is_per_token_and_zero_at_padding():
    emissions = np.array([[[0.0, 2.0, 1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0]]], np.float32)
    assert argmax_decode(emissions, np.array([2])).tolist() == [[1, 0, 0]]


def test_lengths_outside_the_time_axis_are_refused():
    _, scores = _crf(2, seed=0)
    with pytest.raises(ValueError, match=r"lengths must be \(batch,\) = \(1,\) values in "
                                         r"\[1, 3\], got \[4\]"):
        viterbi_decode(np.zeros((1, 3, 2), np.float32), np.array([4]), scores)
