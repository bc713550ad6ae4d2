"""Character features of a word, for taggers: what its spelling says (suffixes, capitals,
digits, hyphens), which is all a tagger has for a word it never saw in training.

Two encoders of ``char_ids (words, chars)`` (0 = padding, real characters first) into
``(words, features)``:

* ``CharCNN``: Ma & Hovy (2016), section 2.1 — character embeddings, one convolution of
  width 3, max over the word's characters (padding excluded);
* ``CharBiLSTM``: Lample et al. (2016), section 4.1 — a bidirectional recurrent layer over
  the characters (any rnnlab cell), the forward state after the last character ⊕ the
  backward state after the first.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.core.layers import Recurrent

CHAR_FEATURES = ("cnn", "lstm", "none")


class CharCNN(nn.Module):
    """``char_ids (words, chars)`` → ``(words, filters)``: max-pooled convolution features."""

    def __init__(self, num_chars: int, embedding_size: int, filters: int, width: int) -> None:
        super().__init__()
        if width < 1 or width % 2 == 0:
            raise ValueError(f"char_width must be an odd int >= 1 (so the output keeps one "
                             f"position per character), got {width}")
        self.embedding = nn.Embedding(num_chars, embedding_size, padding_idx=0)
        self.conv = nn.Conv1d(embedding_size, filters, width, padding=width // 2)
        self.output_size = filters

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        real = char_ids != 0  # (words, chars)
        embedded = self.embedding(char_ids).transpose(1, 2)  # (words, embedding, chars)
        features = self.conv(embedded).transpose(1, 2)  # (words, chars, filters)
        # Max over real characters only: a padded position must never win the max.
        features = features.masked_fill(~real.unsqueeze(2), float("-inf"))
        pooled = features.max(dim=1).values
        return torch.where(real.any(dim=1, keepdim=True), pooled, torch.zeros_like(pooled))


class CharBiLSTM(nn.Module):
    """``char_ids (words, chars)`` → ``(words, 2*hidden)``: a bidirectional layer's last states."""

    def __init__(self, num_chars: int, embedding_size: int, hidden_size: int,
                 cell: str = "lstm") -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_chars, embedding_size, padding_idx=0)
        self.recurrent = Recurrent(embedding_size, hidden_size, batch_first=True,
                                   bidirectional=True, cell=cell)
        self.output_size = 2 * hidden_size

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        lengths = (char_ids != 0).sum(dim=1)
        result = self.recurrent(self.embedding(char_ids), lengths=lengths, padding="post")
        return result.last


def build_char_encoder(kind: str, num_chars: int, embedding_size: int, size: int, *,
                       width: int = 3, cell: str = "lstm") -> CharCNN | CharBiLSTM | None:
    """The encoder ``kind`` names ("cnn", "lstm", or "none" → None); ``size`` is the number of
    filters (cnn) or the hidden size per direction (lstm)."""
    if kind == "cnn":
        return CharCNN(num_chars, embedding_size, size, width)
    if kind == "lstm":
        return CharBiLSTM(num_chars, embedding_size, size, cell)
    if kind == "none":
        return None
    raise ValueError(f"char_features must be one of {list(CHAR_FEATURES)}, got {kind!r}")
