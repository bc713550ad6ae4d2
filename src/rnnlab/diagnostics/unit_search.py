"""Which units track a pattern? Rank hidden units by AUROC and Pearson correlation.

Seed 003 (Karpathy et al. 2015, "Visualizing and understanding recurrent networks") finds a
character-LSTM cell that is on inside a quotation and off outside. Given the states of every
unit at every token and a per-token track (1 inside the pattern, 0 outside), a unit that
indicates the pattern separates the two groups:

    states: (tokens, units)        track: (tokens,)
    unit 3:  .1 .2 .9 .9 .8 .1     0 0 1 1 1 0      AUROC 1.0, Pearson ≈ 0.99

AUROC is the probability that a random token inside the pattern has a higher activation
than a random token outside, ties counted half (the Mann-Whitney U statistic over
n_inside·n_outside; Hanley & McNeil 1982). It is computed exactly from average ranks, so
tied activations (saturated tanh units, a unit stuck at 0) get the right value. A unit
that is *off* inside the pattern (AUROC near 0) indicates it just as well, so units are
ranked by |AUROC − 0.5| (or |Pearson|), best first.

``regex_track`` turns a regular expression over the text into the 0/1 track, given each
token's character span; ``locate_tokens`` finds those spans for tokens cut from the text.
No torch here: this module works on NumPy arrays from any source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import rankdata

__all__ = ["UnitScore", "locate_tokens", "rank_units", "regex_track"]

RankBy = Literal["auroc", "pearson"]


@dataclass(frozen=True)
class UnitScore:
    """How well one unit tracks the pattern.

    ``auroc`` is in [0, 1] (0.5 = no separation; near 0 = the unit is *off* inside the
    pattern) and NaN when the track is not 0/1; ``pearson`` is in [-1, 1] and NaN for a
    constant unit; ``strength`` is the ranking key: |AUROC − 0.5|·2 or |Pearson|, in [0, 1].
    """

    unit: int
    auroc: float
    pearson: float
    strength: float

    @property
    def sign(self) -> int:
        """+1 if the unit is higher inside the pattern, −1 if lower, 0 if neither."""
        value = self.pearson if np.isnan(self.auroc) else self.auroc - 0.5
        return 0 if np.isnan(value) or value == 0 else int(np.sign(value))


def rank_units(states, track, *, by: RankBy | None = None) -> list[UnitScore]:
    """Rank units by how well they separate (AUROC) or correlate (Pearson) with ``track``.

    states: (tokens, units) activations (NumPy array or anything ``np.asarray`` takes);
    track: (tokens,) 0/1 (bool or numbers) or a float signal. ``by`` picks the ranking key:
    "auroc" (the default for a 0/1 track; allowed only then) or "pearson" (the default, and
    only choice, for a float track). Ties in the key are broken by the other measure, then
    by unit index. Returns one ``UnitScore`` per unit, best first.

    Raises ValueError for mismatched shapes, non-finite values, or a constant track (a
    pattern that never matches, or matches every token, says nothing about any unit).
    """
    states = np.asarray(states, dtype=np.float64)
    track = np.asarray(track)
    if states.ndim != 2:
        raise ValueError(f"states must be (tokens, units), got shape {states.shape}")
    if track.ndim != 1 or track.shape[0] != states.shape[0]:
        raise ValueError(
            f"track must be (tokens,) = ({states.shape[0]},) to match states "
            f"{states.shape}, got shape {track.shape}")
    if states.shape[0] < 2:
        raise ValueError(f"need at least 2 tokens to rank units, got {states.shape[0]}")
    if not np.isfinite(states).all():
        raise ValueError("states contain NaN or infinity; rank only finite activations")
    track = track.astype(np.float64)
    if not np.isfinite(track).all():
        raise ValueError("track contains NaN or infinity")
    if np.ptp(track) == 0:
        raise ValueError(
            f"track is constant ({track[0]:g} at all {track.size} tokens): a pattern that "
            "never matches, or matches every token, cannot rank units; give a pattern "
            "that holds at some tokens and not at others")
    binary = bool(np.isin(track, (0.0, 1.0)).all())
    if by is None:
        by = "auroc" if binary else "pearson"
    if by not in ("auroc", "pearson"):
        raise ValueError(f"by must be 'auroc' or 'pearson', got {by!r}")
    if by == "auroc" and not binary:
        raise ValueError("by='auroc' needs a 0/1 track; use by='pearson' for a float track")

    aurocs = auroc_per_unit(states, track) if binary else np.full(states.shape[1], np.nan)
    pearsons = pearson_per_unit(states, track)
    auroc_strength = np.abs(aurocs - 0.5) * 2
    pearson_strength = np.nan_to_num(np.abs(pearsons), nan=0.0)
    primary, secondary = ((auroc_strength, pearson_strength) if by == "auroc"
                          else (pearson_strength, np.nan_to_num(auroc_strength, nan=0.0)))
    units = np.arange(states.shape[1])
    order = np.lexsort((units, -secondary, -primary))  # last key sorts first
    return [UnitScore(unit=int(u), auroc=float(aurocs[u]), pearson=float(pearsons[u]),
                      strength=float(primary[u])) for u in order]


def auroc_per_unit(states: np.ndarray, track: np.ndarray) -> np.ndarray:
    """AUROC of each column of ``states`` (tokens, units) for the 0/1 ``track``: (units,).

    Mann-Whitney: with average ranks r over all tokens, U = Σ_{inside} r − n₁(n₁+1)/2 and
    AUROC = U / (n₁ n₀); ties share their average rank, so each tied pair counts ½.
    """
    inside = track == 1
    n_inside, n_outside = int(inside.sum()), int((~inside).sum())
    ranks = rankdata(states, axis=0)  # average ranks: ties handled exactly
    u_statistic = ranks[inside].sum(axis=0) - n_inside * (n_inside + 1) / 2
    return u_statistic / (n_inside * n_outside)


def pearson_per_unit(states: np.ndarray, track: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``states`` with ``track``: (units,), NaN where
    a unit is constant."""
    centred_states = states - states.mean(axis=0)
    centred_track = track - track.mean()
    covariance = centred_track @ centred_states
    scale = np.sqrt((centred_states ** 2).sum(axis=0) * (centred_track ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.where(scale > 0, covariance / np.where(scale > 0, scale, 1), np.nan)
    return np.clip(correlation, -1.0, 1.0)


def regex_track(text: str, pattern: str | re.Pattern, spans: Sequence[tuple[int, int]], *,
                flags: int = 0) -> np.ndarray:
    """A per-token 0/1 track: 1 where the token's characters overlap a match of ``pattern``.

    spans: (tokens,) pairs ``(start, end)`` of character offsets into ``text`` (end
    exclusive), one per token, as from ``locate_tokens``. Empty matches are ignored (a
    pattern like ``x*`` matches nowhere, not everywhere). Returns an int8 array (tokens,).

    >>> text = 'he said "no" twice'
    >>> regex_track(text, r'"[^"]*"', [(0, 2), (3, 7), (8, 12), (13, 18)]).tolist()
    [0, 0, 1, 0]
    """
    try:
        compiled = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
    except re.error as error:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {error}") \
            from None
    covered = np.zeros(len(text) + 1, dtype=np.int64)  # difference array over characters
    for match in compiled.finditer(text):
        if match.end() > match.start():
            covered[match.start()] += 1
            covered[match.end()] -= 1
    inside = np.cumsum(covered)[:-1] > 0  # (characters,) inside some match
    prefix = np.concatenate([[0], np.cumsum(inside)])
    track = np.zeros(len(spans), dtype=np.int8)
    for index, (start, end) in enumerate(spans):
        if not 0 <= start <= end <= len(text):
            raise ValueError(
                f"spans[{index}] = ({start}, {end}) is outside the text of length {len(text)}")
        track[index] = prefix[end] > prefix[start]
    return track


def locate_tokens(text: str, tokens: Sequence[str], *, ignore_case: bool = False
                  ) -> list[tuple[int, int]]:
    """Character spans of ``tokens`` found left to right in ``text``: (tokens,) pairs.

    Each token is searched from where the previous one ended, so repeated words map to
    successive occurrences. ``ignore_case`` matches lowercased tokens against any case.
    A token that is not in the rest of the text (a tokenizer that rewrote it) gets an
    empty span where the search stands, so tracks stay aligned, never shifted.

    >>> locate_tokens("The cat, the hat", ["the", "cat", "the", "hat"], ignore_case=True)
    [(0, 3), (4, 7), (9, 12), (13, 16)]
    """
    haystack = text.lower() if ignore_case else text
    spans, position = [], 0
    for token in tokens:
        needle = token.lower() if ignore_case else token
        found = haystack.find(needle, position) if needle else -1
        if found < 0:
            spans.append((position, position))
            continue
        spans.append((found, found + len(needle)))
        position = found + len(needle)
    return spans
