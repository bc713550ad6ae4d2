"""A sequence tagger: word embeddings ⊕ character features → bidirectional recurrent layer →
per-token tag scores, optionally read by a CRF (Huang et al. 2015; Ma & Hovy 2016; Lample et
al. 2016)::

    word_ids (batch, time)        ─ embedding (100) ─┐
    char_ids (batch, time, chars) ─ char-CNN (50)  ──┴─ ⊕ ─ dropout ─ BiLSTM 2×128 ─ dropout
        ─ linear ─ emissions (batch, time, tags) ─ softmax per token, or CRF (Viterbi)

Only real tokens (the first ``lengths[b]`` of each row, post padding) reach the character
encoder, and the recurrent layer is given ``lengths``, so padding never changes a tag.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from rnnlab._config import check_known_keys, check_positive_ints
from rnnlab.core.layers import Recurrent
from rnnlab.core.padding import is_tracing, lengths_to_mask
from rnnlab.core.registry import ALL_CELLS
from rnnlab.models.char_features import CHAR_FEATURES, build_char_encoder
from rnnlab.models.crf import CRF
from rnnlab.models.init import part_seed
from rnnlab.models.token_ids import check_token_ids


@dataclass(frozen=True)
class TaggerConfig:
    """Everything needed to build a :class:`Tagger`; saved in every tagger checkpoint."""

    vocab_size: int  # word ids, <pad> = 0 and <unk> = 1 included
    num_chars: int  # character ids, padding = 0 and unknown = 1 included
    num_tags: int
    word_embedding_size: int = 100  # Ma & Hovy 2016 / Lample et al. 2016: 100
    char_features: str = "cnn"  # "cnn" (Ma & Hovy), "lstm" (Lample et al.) or "none"
    char_embedding_size: int = 30  # Ma & Hovy: 30 (Lample et al.: 25)
    char_size: int = 50  # CNN filters, or char-LSTM hidden per direction
    char_width: int = 3  # CNN window (Ma & Hovy: 3)
    cell: str = "lstm"  # any rnnlab cell name: lstm, gru, peephole, cifg, layernorm, rnn_tanh ...
    hidden_size: int = 128  # per direction
    num_layers: int = 1
    dropout: float = 0.5  # on the recurrent layer's input and output (Ma & Hovy: 0.5)
    crf: bool = False  # a CRF output layer instead of independent per-token softmaxes

    def __post_init__(self) -> None:
        check_positive_ints(self, ("vocab_size", "num_chars", "num_tags", "word_embedding_size",
                                   "char_embedding_size", "char_size", "char_width",
                                   "hidden_size", "num_layers"))
        if self.char_features not in CHAR_FEATURES:
            raise ValueError(f"char_features must be one of {list(CHAR_FEATURES)}, "
                             f"got {self.char_features!r}")
        if self.cell not in ALL_CELLS:
            raise ValueError(f"cell must be one of {sorted(ALL_CELLS)}, got {self.cell!r}")
        if not isinstance(self.crf, bool):
            raise ValueError(f"crf must be true or false, got {self.crf!r}")
        if isinstance(self.dropout, bool) or not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaggerConfig:
        check_known_keys(data, cls, "TaggerConfig key")
        return cls(**data)


class Tagger(nn.Module):
    """A BiLSTM (any cell) tagger; ``seed`` fixes the initial weights (the caller's RNG is
    left untouched)."""

    def __init__(self, config: TaggerConfig, *, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(part_seed(seed, "tagger"))
            self._build(config)

    def _build(self, config: TaggerConfig) -> None:
        self.embedding = nn.Embedding(config.vocab_size, config.word_embedding_size,
                                      padding_idx=0)
        self.chars = build_char_encoder(config.char_features, config.num_chars,
                                        config.char_embedding_size, config.char_size,
                                        width=config.char_width, cell=config.cell)
        features = config.word_embedding_size + (0 if self.chars is None
                                                 else self.chars.output_size)
        self.dropout = nn.Dropout(config.dropout)
        self.recurrent = Recurrent(
            features, config.hidden_size, config.num_layers, batch_first=True,
            bidirectional=True, cell=config.cell,
            dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.output = nn.Linear(2 * config.hidden_size, config.num_tags)
        self.crf = CRF(config.num_tags) if config.crf else None

    def forward(self, word_ids: torch.Tensor, char_ids: torch.Tensor,
                lengths: torch.Tensor) -> torch.Tensor:
        """Emissions (tag scores) ``(batch, time, tags)`` from ``word_ids (batch, time)``,
        ``char_ids (batch, time, chars)`` and ``lengths (batch,)`` (post padding)."""
        if word_ids.dim() != 2 or char_ids.dim() != 3 or char_ids.shape[:2] != word_ids.shape:
            raise ValueError(f"word_ids must be (batch, time) and char_ids (batch, time, "
                             f"chars), got {tuple(word_ids.shape)} and {tuple(char_ids.shape)}")
        check_token_ids(word_ids, self.config.vocab_size)
        check_token_ids(char_ids.flatten(1), self.config.num_chars)
        lengths = torch.as_tensor(lengths, dtype=torch.long)
        parts = [self.embedding(word_ids)]  # (batch, time, word_embedding)
        if self.chars is not None:
            parts.append(self._spelling(char_ids, lengths_to_mask(lengths, word_ids.shape[1])))
        features = self.dropout(torch.cat(parts, dim=-1))
        states = self.recurrent(features, lengths=lengths, padding="post").output
        return self.output(self.dropout(states))

    def _spelling(self, char_ids: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """Character features ``(batch, time, features)`` of ``char_ids (batch, time, chars)``,
        zero where ``real (batch, time)`` is false."""
        if is_tracing():
            # An export graph spells every position, padding included, and zeroes the padded
            # ones: the real tokens are a data-dependent number of words, which torch.export's
            # dynamic-time RNN cannot take as its batch (torch 2.13). Same numbers: a padded
            # position is all-zero characters, whatever its features, and is zeroed here.
            # The sizes from char_ids, not from real (whose batch is lengths' own symbol): with
            # those the view below guards "lengths.size(0) != batch * time", false at time 1.
            batch, time = char_ids.shape[:2]
            words = self.chars(char_ids.flatten(0, 1))  # (batch * time, features)
            words = words.view(batch, time, self.chars.output_size)
            return words * real.unsqueeze(-1).to(words.dtype)
        words = self.chars(char_ids[real])  # (real tokens, char features): no padding spelled
        spelled = words.new_zeros(*real.shape, words.shape[-1])
        spelled[real] = words
        return spelled

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor,
             lengths: torch.Tensor) -> torch.Tensor:
        """Mean loss per real token: cross-entropy, or the CRF's sentence NLL / tokens."""
        lengths = torch.as_tensor(lengths, dtype=torch.long)
        if self.crf is not None:
            return self.crf.neg_log_likelihood(emissions, tags, lengths).sum() / lengths.sum()
        real = lengths_to_mask(lengths, emissions.shape[1])
        return functional.cross_entropy(emissions[real], tags[real])

    @torch.no_grad()
    def predict(self, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Tag ids ``(batch, time)``: per-token argmax, or the CRF's best path (0 at padding)."""
        lengths = torch.as_tensor(lengths, dtype=torch.long)
        if self.crf is not None:
            return self.crf.decode(emissions, lengths)[0]
        real = lengths_to_mask(lengths, emissions.shape[1])
        return emissions.argmax(dim=-1).masked_fill(~real, 0)
