"""Truncated backpropagation through time: a token stream as parallel streams and windows.

The layout of pytorch/examples ``word_language_model`` (``batchify`` / ``get_batch``), kept
batch-first. A corpus of 26 tokens, ``batch=4``, ``bptt=2``::

    ids      a b c d e f g h i j k l m n o p q r s t u v w x y z
             |--stream 0-|--stream 1-|--stream 2-|--stream 3-|     "y z" dropped (26 // 4 = 6)

    streams (batch, steps) = (4, 6)        window 0      window 1      window 2
                                           in    target  in    target  in  target
    stream 0:  a b c d e f                 a b   b c     c d   d e     e   f
    stream 1:  g h i j k l                 g h   h i     i j   j k     k   l
    stream 2:  m n o p q r                 m n   n o     o p   p q     q   r
    stream 3:  s t u v w x                 s t   t u     u v   v w     w   x

Each row is one contiguous piece of the corpus; window k+1 continues window k in every row,
so a model carries its hidden state from one window to the next (``detach_state`` cuts the
graph there: gradients flow back at most ``bptt`` steps). The targets are the inputs shifted
one step left *within the stream*, so the last window is one token shorter when the stream
length is a multiple of ``bptt`` (``steps - 1`` tokens are predicted per stream in all).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnlab.data.errors import DataError


def batchify(ids: np.ndarray | torch.Tensor | Sequence[int], batch: int) -> torch.Tensor:
    """Cut a 1-D id stream into ``batch`` contiguous streams: ``(batch, len(ids) // batch)``.

    The ``len(ids) % batch`` trailing tokens are dropped, as pytorch/examples does.
    """
    stream = torch.as_tensor(np.asarray(ids), dtype=torch.long)
    if stream.dim() != 1:
        raise DataError(f"ids must be a 1-D token stream, got shape {tuple(stream.shape)}")
    if batch < 1:
        raise DataError(f"batch must be >= 1, got {batch}")
    steps = stream.numel() // batch
    if steps < 2:
        raise DataError(
            f"a stream of {stream.numel()} tokens gives {steps} step(s) per row with "
            f"batch={batch}; need at least 2 (an input and its target): use a smaller batch"
        )
    return stream[: steps * batch].view(batch, steps).contiguous()


def window_starts(steps: int, bptt: int) -> range:
    """Start columns of the windows over streams of ``steps`` tokens: 0, bptt, 2·bptt, …"""
    if bptt < 1:
        raise DataError(f"bptt must be >= 1, got {bptt}")
    return range(0, steps - 1, bptt)


@dataclass(frozen=True)
class TBPTTBatches:
    """The windows of a stream, in order; iterate for ``(inputs, targets)`` pairs.

    ``streams: (batch, steps)`` from :func:`batchify`; each yielded ``inputs`` and ``targets``
    is ``(batch, time)`` with ``time = bptt`` except possibly the last window.

    >>> batches = TBPTTBatches.from_ids(range(26), batch=4, bptt=2)
    >>> [tuple(inputs.shape) for inputs, _ in batches]
    [(4, 2), (4, 2), (4, 1)]
    """

    streams: torch.Tensor
    bptt: int

    @classmethod
    def from_ids(
        cls, ids: np.ndarray | torch.Tensor | Sequence[int], batch: int, bptt: int
    ) -> TBPTTBatches:
        return cls(batchify(ids, batch), bptt)

    def __post_init__(self) -> None:
        window_starts(self.streams.shape[1], self.bptt)  # validates bptt

    @property
    def batch(self) -> int:
        return int(self.streams.shape[0])

    @property
    def num_targets(self) -> int:
        """Tokens predicted in one pass over all windows: ``batch * (steps - 1)``."""
        return self.batch * (int(self.streams.shape[1]) - 1)

    def __len__(self) -> int:
        return len(window_starts(self.streams.shape[1], self.bptt))

    def window(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Window ``index``: ``inputs, targets``, each ``(batch, time)``."""
        starts = window_starts(self.streams.shape[1], self.bptt)
        start = starts[index]
        time = min(self.bptt, self.streams.shape[1] - 1 - start)
        inputs = self.streams[:, start : start + time]
        targets = self.streams[:, start + 1 : start + 1 + time]
        return inputs, targets

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for index in range(len(self)):
            yield self.window(index)


State = torch.Tensor | tuple[torch.Tensor, ...]


def detach_state(state: State | None) -> State | None:
    """The state with its history cut: same values, no graph back into earlier windows.

    Carrying the state keeps the *values* flowing across windows; detaching is what makes
    backpropagation truncated (and keeps memory flat instead of growing with the corpus).
    """
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(part.detach() for part in state)
