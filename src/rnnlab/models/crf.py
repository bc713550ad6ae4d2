"""A linear-chain conditional random field over per-token tag scores (Lafferty et al. 2001),
as the output layer of a BiLSTM tagger (Huang, Xu & Yu 2015; Lample et al. 2016).

The score of a tag path y_1..y_n (n = the sentence's length) given emissions E::

    s(y) = start[y_1] + sum_t E[t, y_t] + sum_{t>1} trans[y_{t-1}, y_t] + end[y_n]
    log p(y | E) = s(y) - log Z,     log Z = logsumexp over all tags^n paths of s(y)

``log Z`` comes from the forward algorithm, the best path from Viterbi; both are O(n·tags²).
Sequences are post-padded (real tokens first), lengths >= 1; padded steps never change a
score: the recursions carry the last real step's values through them::

    lengths [3, 1], time 3      t=0    t=1    t=2
    row 0                        y0  →  y1  →  y2   → end
    row 1                        y0  → end  (t=1, t=2 pass alpha through unchanged)

Written here rather than taken from pytorch-crf (``torchcrf``), whose last release is from
2019 and which is no longer maintained; this is the same model in ~100 lines, tested
against brute-force enumeration (tests/models/test_crf.py).
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.core.padding import lengths_to_mask


class CRF(nn.Module):
    """Transition, start and end scores for ``num_tags`` tags; zero-initialised (a CRF that
    starts as independent per-token softmaxes)."""

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 1:
            raise ValueError(f"num_tags must be an int >= 1, got {num_tags!r}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def _check(self, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if emissions.dim() != 3 or emissions.shape[-1] != self.num_tags:
            raise ValueError(f"emissions must be (batch, time, {self.num_tags}), got shape "
                             f"{tuple(emissions.shape)}")
        lengths = torch.as_tensor(lengths, dtype=torch.long)
        batch, time = emissions.shape[:2]
        if lengths.shape != (batch,) or (batch and (int(lengths.min()) < 1
                                                    or int(lengths.max()) > time)):
            raise ValueError(f"lengths must be (batch,) = ({batch},) values in [1, {time}], "
                             f"got {lengths.tolist()}")
        return lengths

    def score(self, emissions: torch.Tensor, tags: torch.Tensor,
              lengths: torch.Tensor) -> torch.Tensor:
        """s(y) of the paths ``tags (batch, time)`` (padding ignored) → ``(batch,)``."""
        lengths = self._check(emissions, lengths)
        mask = lengths_to_mask(lengths, emissions.shape[1]).to(emissions.dtype)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (batch, time)
        total = self.start[tags[:, 0]] + (emitted * mask).sum(1)
        if tags.shape[1] > 1:
            moves = self.transitions[tags[:, :-1], tags[:, 1:]]  # (batch, time - 1)
            total = total + (moves * mask[:, 1:]).sum(1)
        last = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)
        return total + self.end[last]

    def log_partition(self, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """log Z by the forward algorithm: ``emissions (batch, time, tags)`` → ``(batch,)``."""
        lengths = self._check(emissions, lengths)
        mask = lengths_to_mask(lengths, emissions.shape[1])
        alpha = self.start + emissions[:, 0]  # (batch, tags): log-sum of paths ending in tag
        for t in range(1, emissions.shape[1]):
            # (batch, from, 1) + (from, to) + (batch, 1, to), summed out over "from"
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions
                                   + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t:t + 1], step, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    def neg_log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor,
                           lengths: torch.Tensor) -> torch.Tensor:
        """-log p(tags | emissions) per sentence: ``(batch,)``."""
        return self.log_partition(emissions, lengths) - self.score(emissions, tags, lengths)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor,
               lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Viterbi: best paths ``(batch, time)`` (0 at padding) and their scores ``(batch,)``."""
        lengths = self._check(emissions, lengths)
        batch, time, tags = emissions.shape
        mask = lengths_to_mask(lengths, time)
        identity = torch.arange(tags).expand(batch, tags)
        best = self.start + emissions[:, 0]
        pointers = []
        for t in range(1, time):
            candidates = best.unsqueeze(2) + self.transitions  # (batch, from, to)
            step, pointer = candidates.max(dim=1)
            real = mask[:, t:t + 1]
            best = torch.where(real, step + emissions[:, t], best)
            # A padded step points each tag to itself, so backtracking walks through padding
            # unchanged to the last real step.
            pointers.append(torch.where(real, pointer, identity))
        scores, last = (best + self.end).max(dim=1)
        path = [last]
        for pointer in reversed(pointers):
            last = pointer.gather(1, last.unsqueeze(1)).squeeze(1)
            path.append(last)
        paths = torch.stack(path[::-1], dim=1)
        return paths.masked_fill(~mask, 0), scores
