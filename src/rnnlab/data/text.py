"""Tokenizing raw text into word tokens.

The rule, in order:
  1. ``<br />`` (and ``<br>``, ``<br/>``), which IMDB reviews use for line breaks, becomes a space;
  2. the text is lower-cased (``lowercase=True``);
  3. tokens are runs of word characters that may contain inner apostrophes (``don't``,
     ``it's``, ``rock'n'roll``); every other non-space character is a token of its own.

    >>> tokenize("I didn't like it.<br /><br />Really!")
    ['i', "didn't", 'like', 'it', '.', 'really', '!']

A leading or trailing apostrophe is punctuation (``'quoted'`` -> ``"'", 'quoted', "'"``).
Curly apostrophes (U+2019) are normalised to ``'`` first so ``don’t`` == ``don't``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_BREAK = re.compile(r"<br\s*/?\s*>", re.IGNORECASE)
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


@dataclass(frozen=True)
class TokenizerConfig:
    """How text becomes tokens (see the module docstring for the rule)."""

    lowercase: bool = True  # IMDB sentiment does not depend on case; halves the vocabulary
    strip_html_breaks: bool = True  # IMDB's "<br />" is markup, not words


def tokenize(text: str, config: TokenizerConfig = TokenizerConfig()) -> list[str]:
    """Split ``text`` into tokens following ``config``; returns a list of str."""
    if config.strip_html_breaks:
        text = _BREAK.sub(" ", text)
    text = text.replace("\u2019", "'")
    if config.lowercase:
        text = text.lower()
    return _TOKEN.findall(text)


def tokenize_all(
    texts: Iterable[str], config: TokenizerConfig = TokenizerConfig()
) -> list[list[str]]:
    """Tokenize every text; returns one token list per text."""
    return [tokenize(text, config) for text in texts]
