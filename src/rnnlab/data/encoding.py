"""Token ids to fixed-width arrays: padding, truncation and the Keras "drop" rule.

With ``maxlen=5`` and the sequences ``[7, 8]`` and ``[1, 2, 3, 4, 5, 6, 7]``::

    padding="pre"   [0 0 0 7 8]        padding="post"   [7 8 0 0 0]
    truncating="pre"  keeps the end:    [3 4 5 6 7]
    truncating="post" keeps the start:  [1 2 3 4 5]
    overlong="drop"   removes the second sequence altogether (``kept`` = [0])

``lengths`` counts the real (unpadded, post-truncation) tokens of each row, so a model can
tell padding from content whichever side it sits on. The defaults (pre, pre) are Keras's
``pad_sequences`` defaults and seed 002's choice.

``overlong="drop"`` is the ``keras.datasets.imdb.load_data(maxlen=...)`` rule. Keras applies
it *after* prepending its start token and keeps ``len < maxlen``, so Keras's ``maxlen=100``
keeps reviews of at most 98 words; here ``maxlen`` is inclusive and there is no start token
(``maxlen=100`` keeps sequences of at most 100 ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rnnlab.data.errors import DataError
from rnnlab.data.text import TokenizerConfig, tokenize
from rnnlab.data.vocab import PAD_ID, Vocab

Side = Literal["pre", "post"]


@dataclass(frozen=True)
class EncodingConfig:
    """How id sequences become a (batch, time) array."""

    maxlen: int | None = 100  # seed 002: reviews of at most 100 tokens; None = longest sequence
    padding: Side = "pre"  # seed 002 pads on the left (Keras default)
    truncating: Side = "pre"  # Keras default: keep the end of a long sequence
    overlong: Literal["truncate", "drop"] = "truncate"  # "drop" = Keras load_data(maxlen) rule

    def __post_init__(self) -> None:
        for name in ("padding", "truncating"):
            value = getattr(self, name)
            if value not in ("pre", "post"):
                raise DataError(f"{name} must be 'pre' or 'post', got {value!r}")
        if self.overlong not in ("truncate", "drop"):
            raise DataError(f"overlong must be 'truncate' or 'drop', got {self.overlong!r}")
        if self.maxlen is not None and self.maxlen < 1:
            raise DataError(f"maxlen must be >= 1 or None, got {self.maxlen}")


@dataclass(frozen=True, eq=False)
class Encoded:
    """Padded ids with their lengths.

    ids: (batch, time) int64, padded with ``PAD_ID``.
    lengths: (batch,) int64, real tokens per row (0 for an empty sequence).
    kept: (batch,) int64, index of each row in the input (differs only with overlong="drop";
        use it to select the matching labels: ``labels[encoded.kept]``).
    """

    ids: np.ndarray
    lengths: np.ndarray
    kept: np.ndarray


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    config: EncodingConfig = EncodingConfig(),
    pad_id: int = PAD_ID,
) -> Encoded:
    """Pad/truncate (or drop) ``sequences`` into an (batch, time) int64 array.

    ``time`` is ``config.maxlen``, or the longest sequence if ``maxlen`` is None.
    """
    kept = np.arange(len(sequences), dtype=np.int64)
    if config.overlong == "drop" and config.maxlen is not None:
        kept = np.array(
            [i for i, seq in enumerate(sequences) if len(seq) <= config.maxlen], dtype=np.int64
        )
        sequences = [sequences[i] for i in kept]
    longest = max((len(seq) for seq in sequences), default=0)
    time = config.maxlen if config.maxlen is not None else longest
    ids = np.full((len(sequences), time), pad_id, dtype=np.int64)
    lengths = np.zeros(len(sequences), dtype=np.int64)
    for row, seq in enumerate(sequences):
        seq = list(seq)
        if len(seq) > time:
            seq = seq[-time:] if config.truncating == "pre" else seq[:time]
        n = len(seq)
        lengths[row] = n
        if n == 0:
            continue
        if config.padding == "pre":
            ids[row, time - n :] = seq
        else:
            ids[row, :n] = seq
    return Encoded(ids=ids, lengths=lengths, kept=kept)


def encode_texts(
    texts: Sequence[str],
    vocab: Vocab,
    config: EncodingConfig = EncodingConfig(),
    tokenizer_config: TokenizerConfig | None = None,
) -> Encoded:
    """Tokenize ``texts``, map to ids with ``vocab`` and pad: texts -> (batch, time) ids.

    ``tokenizer_config`` None means ``TokenizerConfig()``.
    """
    tokenizer_config = tokenizer_config or TokenizerConfig()
    pad = vocab.pad_id if vocab.pad_id is not None else PAD_ID
    sequences = [vocab.encode(tokenize(text, tokenizer_config)) for text in texts]
    return pad_sequences(sequences, config, pad)
