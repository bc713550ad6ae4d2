"""A user's text as a trained run would read it: tokens, their character spans, their ids.

    classifier run    rnnlab.data.tokenize (lower-cased words and punctuation), as training
    word LM run       words and punctuation, case kept (Brown distinguishes case); a word the
                      vocabulary lacks is tried lower-cased; a line break is ``<eos>``; a
                      straight double quote becomes Brown's ``\\`\\``` / ``''`` (open, close)
                      when the vocabulary has those and not ``"``
    character LM run  one token per character (a vocabulary of single characters)

Each token keeps its character span in the text, so a regex over the text
(:func:`rnnlab.diagnostics.unit_search.regex_track`) marks the right tokens, and the explorer
shows the text as written. A token outside the vocabulary maps to ``<unk>`` (``known`` False);
a text with no known token at all is an error, since every state would describe ``<unk>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rnnlab.data.text import TokenizerConfig, tokenize
from rnnlab.data.vocab import Vocab
from rnnlab.diagnostics.unit_search import locate_tokens

__all__ = ["EncodedText", "encode_text"]

Unit = Literal["word", "character"]
# rnnlab.data.text's rules, kept same-length so spans found in the result are spans of the text.
_BREAK = re.compile(r"<br\s*/?\s*>", re.IGNORECASE)
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]|\n")
_SPECIAL = re.compile(r"^<\w+>$")


@dataclass(frozen=True)
class EncodedText:
    """``tokens``, ``spans``, ``ids`` and ``known`` are (tokens,) each, in text order."""

    text: str
    tokens: tuple[str, ...]  # as the vocabulary sees them ("<eos>", lower-cased words…)
    spans: tuple[tuple[int, int], ...]  # (start, end) character offsets into text
    ids: tuple[int, ...]
    known: tuple[bool, ...]  # False where the token became <unk>
    unit: Unit

    @property
    def display(self) -> tuple[str, ...]:
        """What to show for each token: the text it came from, line breaks as ⏎."""
        shown = []
        for token, (start, end) in zip(self.tokens, self.spans):
            piece = self.text[start:end] if end > start else token
            shown.append(piece.replace("\n", "⏎"))
        return tuple(shown)


def is_character_vocab(vocab: Vocab) -> bool:
    """Whether every token but the ``<special>`` ones is a single character."""
    plain = [token for token in vocab.tokens if not _SPECIAL.match(token)]
    return bool(plain) and all(len(token) == 1 for token in plain)


def encode_text(text: str, vocab: Vocab, kind: str, *, argument: str = "text") -> EncodedText:
    """Tokenize ``text`` as a run of ``kind`` ("classifier" or "language_model") with
    ``vocab`` did. ``argument`` names the text in error messages (``--text``, ``--file``)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{argument} is empty; give a text of at least one token")
    if kind == "classifier":
        encoded = _classifier_tokens(text, vocab)
    elif kind == "language_model":
        encoded = _character_tokens(text, vocab) if is_character_vocab(vocab) \
            else _lm_word_tokens(text, vocab)
    else:
        raise ValueError(f"kind must be 'classifier' or 'language_model', got {kind!r}")
    if not any(encoded.known):
        sample = [t for t in vocab.tokens if not _SPECIAL.match(t)][:8]
        raise ValueError(
            f"{argument}: none of its {len(encoded.tokens)} {encoded.unit} token(s) is in the "
            f"run's vocabulary (every one would be {vocab.unk_token}); give a text in the "
            f"language of the run's training data (its vocabulary has e.g. {sample})")
    return encoded


def _finish(text: str, tokens: list[str], spans: list[tuple[int, int]], vocab: Vocab,
            unit: Unit) -> EncodedText:
    ids = vocab.encode(tokens)
    known = [i != vocab.unk_id or token == vocab.unk_token for token, i in zip(tokens, ids)]
    return EncodedText(text, tuple(tokens), tuple(spans), tuple(ids), tuple(known), unit)


def _classifier_tokens(text: str, vocab: Vocab) -> EncodedText:
    config = TokenizerConfig()  # what rnnlab.data.prepare trains every classifier with
    tokens = tokenize(text, config)
    # Breaks become spaces of the same length, so spans in `searchable` are spans in `text`.
    searchable = _BREAK.sub(lambda match: " " * len(match.group()), text).replace("\u2019", "'")
    spans = locate_tokens(searchable, tokens, ignore_case=config.lowercase)
    return _finish(text, tokens, spans, vocab, "word")


def _lm_word_tokens(text: str, vocab: Vocab) -> EncodedText:
    tokens, spans = [], []
    brown_quotes = '"' not in vocab and "``" in vocab and "''" in vocab
    quote_open = False
    for match in _WORD.finditer(text.replace("\u2019", "'")):
        token = match.group()
        if token == "\n":
            if "<eos>" not in vocab:
                continue
            token = "<eos>"
        elif token == '"' and brown_quotes:
            quote_open = not quote_open
            token = "``" if quote_open else "''"
        elif token not in vocab and token.lower() in vocab:
            token = token.lower()
        tokens.append(token)
        spans.append(match.span())
    return _finish(text, tokens, spans, vocab, "word")


def _character_tokens(text: str, vocab: Vocab) -> EncodedText:
    tokens, spans = [], []
    for index, character in enumerate(text):
        if character == "\n" and "\n" not in vocab and "<eos>" in vocab:
            character = "<eos>"
        tokens.append(character)
        spans.append((index, index + 1))
    return _finish(text, tokens, spans, vocab, "character")
