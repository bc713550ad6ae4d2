"""The one check every model's embedding needs: token ids inside the vocabulary."""

from __future__ import annotations

import torch

from rnnlab.core.padding import is_tracing


def check_token_ids(ids: torch.Tensor, vocab_size: int) -> None:
    """``ids (batch, time)`` must be integers in ``[0, vocab_size)``.

    Catches what ``nn.Embedding`` reports as "index out of range in self": text encoded with
    another vocabulary, or a vocabulary larger than the model was built for.
    """
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"ids must be integer token ids, got dtype {ids.dtype}")
    if is_tracing() or ids.numel() == 0:
        return
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(
            f"ids must be in [0, {vocab_size}) for this model's vocab_size={vocab_size}, got "
            f"[{low}, {high}]; encode the text with the vocabulary the model was trained with"
        )
