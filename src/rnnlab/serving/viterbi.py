"""A tagger's decoding in NumPy: the CRF's Viterbi best path, or a per-token argmax.

The same recursion as :meth:`rnnlab.models.crf.CRF.decode`, step for step and in float32 (so
ties break the same way: the first best tag wins), over post-padded emissions::

    best_0[y]   = start[y] + E[0, y]
    best_t[y]   = max_x (best_{t-1}[x] + trans[x, y]) + E[t, y]     for t < length
    best_t      = best_{t-1}                                        at padding
    score       = max_y (best_last[y] + end[y]),  the path read back through the pointers

A padded step points every tag to itself, so backtracking walks through the padding unchanged
to the last real step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def viterbi_decode(emissions: np.ndarray, lengths: np.ndarray,
                   crf: Mapping[str, Sequence]) -> tuple[np.ndarray, np.ndarray]:
    """Best tag paths ``(batch, time)`` int64 (0 at padding) and their scores ``(batch,)``.

    Args:
        emissions: ``(batch, time, tags)`` float32 tag scores, post padding.
        lengths: ``(batch,)`` real tokens per row, in [1, time].
        crf: ``{"transitions": (from, to), "start": (tags,), "end": (tags,)}`` (crf.json).
    """
    emissions = np.asarray(emissions, dtype=np.float32)
    lengths = np.asarray(lengths, dtype=np.int64)
    batch, time, tags = emissions.shape
    transitions = np.asarray(crf["transitions"], dtype=np.float32)
    start = np.asarray(crf["start"], dtype=np.float32)
    end = np.asarray(crf["end"], dtype=np.float32)
    _check(emissions, lengths, transitions)
    mask = np.arange(time)[None, :] < lengths[:, None]  # (batch, time)
    identity = np.broadcast_to(np.arange(tags), (batch, tags))
    best = start + emissions[:, 0]  # (batch, tags)
    pointers = []
    for t in range(1, time):
        candidates = best[:, :, None] + transitions  # (batch, from, to)
        pointer = candidates.argmax(axis=1)  # (batch, to)
        step = np.take_along_axis(candidates, pointer[:, None, :], axis=1)[:, 0]
        real = mask[:, t:t + 1]
        best = np.where(real, step + emissions[:, t], best)
        pointers.append(np.where(real, pointer, identity))
    final = best + end
    last = final.argmax(axis=1)
    scores = final[np.arange(batch), last]
    path = [last]
    for pointer in reversed(pointers):
        last = pointer[np.arange(batch), last]
        path.append(last)
    paths = np.stack(path[::-1], axis=1).astype(np.int64)
    return np.where(mask, paths, 0), scores


def argmax_decode(emissions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each token's best tag ``(batch, time)`` int64 (0 at padding): a softmax tagger's."""
    emissions = np.asarray(emissions)
    mask = np.arange(emissions.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return np.where(mask, emissions.argmax(axis=-1), 0).astype(np.int64)


def _check(emissions: np.ndarray, lengths: np.ndarray, transitions: np.ndarray) -> None:
    batch, time, tags = emissions.shape
    if transitions.shape != (tags, tags):
        raise ValueError(f"transitions must be ({tags}, {tags}) for {tags} tags, got "
                         f"{transitions.shape}")
    if lengths.shape != (batch,) or (batch and (lengths.min() < 1 or lengths.max() > time)):
        raise ValueError(f"lengths must be (batch,) = ({batch},) values in [1, {time}], got "
                         f"{lengths.tolist()}")
