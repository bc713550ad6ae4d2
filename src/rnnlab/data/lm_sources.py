"""A language-model corpus named by a small, JSON-ready spec, so a run can load it again.

    load_corpus({"corpus": "brown", "brown_path": None, "max_words": None})
    load_corpus({"corpus": "/data/ptb", "max_words": 100_000})   # PTB-format files

Runs store the spec instead of the corpus (``rnnlab lm train`` writes it into the checkpoint;
``rnnlab lm eval`` and the diagnostics read it back).
"""

from __future__ import annotations

from typing import Any

from rnnlab.data.brown import load_brown_lm
from rnnlab.data.errors import DataError
from rnnlab.data.lm import LMCorpus, read_ptb

__all__ = ["load_corpus"]


def load_corpus(spec: dict[str, Any]) -> LMCorpus:
    """The corpus a run's ``corpus_spec`` names: ``{"corpus", "brown_path", "max_words"}``.

    ``corpus`` is ``"brown"`` (Bengio et al. 2003's split, from ``brown_path`` or the usual
    places) or a folder of PTB-format files; ``max_words`` keeps the first N training tokens
    (valid and test stay whole).
    """
    if spec["corpus"] == "brown":
        corpus = load_brown_lm(spec.get("brown_path"))
    else:
        corpus = read_ptb(spec["corpus"])
    max_words = spec.get("max_words")
    if max_words is not None:
        if max_words < 2:
            raise DataError(f"max_words (--max-words) must be >= 2, got {max_words}")
        corpus = LMCorpus(corpus.train[:max_words], corpus.valid, corpus.test, corpus.vocab)
    return corpus
