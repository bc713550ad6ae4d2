"""A vocabulary: token <-> id, fitted on the training split only.

Layout of a classification vocabulary (``Vocab.fit``)::

    id:     0       1       2        3       ...   max_size - 1
    token:  <pad>   <unk>   the      ,       ...   (least frequent kept word)

``max_size`` counts *every* id, PAD and OOV included, so an embedding table of ``len(vocab)``
rows always fits and ``max_size=5000`` keeps the 4,998 most frequent words. (Keras's
``imdb.load_data(num_words=5000)`` also keeps every id below 5000, but reserves pad 0,
start 1, OOV 2, and its word ranks start at 1 with ``index_from=3``, so id 3 is unused and
4,996 words are kept; rnnlab has no start token and no unused id.)

Words are ranked by count (descending) and ties are broken by the token string (ascending,
Python's code-point order), so the same training data always gives the same ids, whatever
order it came in. Words seen fewer than ``min_count`` times are left out.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab.data.errors import DataError

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
PAD_ID = 0
OOV_ID = 1
_FORMAT = "rnnlab.vocab/1"


@dataclass(frozen=True)
class VocabConfig:
    """How a vocabulary is fitted."""

    max_size: int | None = None  # cap on len(vocab), PAD and OOV included; None = no cap
    min_count: int = 1  # keep words seen at least this often in train


@dataclass(frozen=True, eq=False)
class Vocab:
    """An immutable token list; ``tokens[i]`` has id ``i``.

    ``pad_token`` may be None (language-model vocabularies have no padding); ``unk_token``
    is the id every unknown token maps to.
    """

    tokens: tuple[str, ...]
    pad_token: str | None = PAD_TOKEN
    unk_token: str = UNK_TOKEN
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {token: i for i, token in enumerate(self.tokens)}
        if len(index) != len(self.tokens):
            duplicate = next(t for t, n in Counter(self.tokens).items() if n > 1)
            raise DataError(f"tokens must be unique, got {duplicate!r} twice")
        for name in ("pad_token", "unk_token"):
            token = getattr(self, name)
            if token is not None and token not in index:
                raise DataError(f"{name}={token!r} is not among the tokens")
        object.__setattr__(self, "_index", index)

    # --- fitting -------------------------------------------------------------------------
    @classmethod
    def fit(
        cls, token_lists: Iterable[Sequence[str]], config: VocabConfig = VocabConfig()
    ) -> Vocab:
        """Fit on tokenized training texts: ``<pad>`` = 0, ``<unk>`` = 1, then by frequency."""
        if config.max_size is not None and config.max_size < 2:
            raise DataError(
                f"max_size must be >= 2 (PAD and OOV take ids 0 and 1), got {config.max_size}"
            )
        if config.min_count < 1:
            raise DataError(f"min_count must be >= 1, got {config.min_count}")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        specials = (PAD_TOKEN, UNK_TOKEN)
        words = ranked_words(counts, config.min_count, exclude=specials)
        if config.max_size is not None:
            words = words[: config.max_size - len(specials)]
        return cls(specials + tuple(words))

    # --- lookups -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    @property
    def pad_id(self) -> int | None:
        return None if self.pad_token is None else self._index[self.pad_token]

    @property
    def unk_id(self) -> int:
        return self._index[self.unk_token]

    def token_to_id(self, token: str) -> int:
        return self._index.get(token, self.unk_id)

    def id_to_token(self, token_id: int) -> str:
        return self.tokens[token_id]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Map tokens to ids; unknown tokens become ``unk_id``."""
        index, unk = self._index, self.unk_id
        return [index.get(token, unk) for token in tokens]

    def decode(self, ids: Iterable[int], skip_pad: bool = True) -> list[str]:
        """Map ids back to tokens, dropping padding unless ``skip_pad=False``."""
        pad = self.pad_id
        return [self.tokens[int(i)] for i in ids if not (skip_pad and int(i) == pad)]

    # --- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (stored in checkpoints next to the model)."""
        return {
            "format": _FORMAT,
            "pad_token": self.pad_token,
            "unk_token": self.unk_token,
            "tokens": list(self.tokens),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Vocab:
        """Inverse of :meth:`to_dict`; DataError (naming the key) for anything else."""
        if not isinstance(data, dict):
            raise DataError(f"a vocabulary must be a JSON object, got {type(data).__name__}")
        if data.get("format") != _FORMAT:
            raise DataError(f"vocabulary format must be {_FORMAT!r}, got {data.get('format')!r}")
        tokens = data.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise DataError("vocabulary 'tokens' must be a list of strings")
        pad_token, unk_token = data.get("pad_token"), data.get("unk_token", UNK_TOKEN)
        for name, token in (("pad_token", pad_token), ("unk_token", unk_token)):
            if token is not None and not isinstance(token, str):
                raise DataError(f"vocabulary {name!r} must be a string, got {token!r}")
        return cls(tuple(tokens), pad_token, unk_token)  # type: ignore[arg-type]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary as JSON (UTF-8), atomically."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        """Read a vocabulary written by :meth:`save`; every error names the file."""
        where = f"vocabulary path={str(path)!r}"
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise DataError(f"{where} does not exist") from error
        except IsADirectoryError as error:
            raise DataError(f"{where} is a directory, not a vocab.json file") from error
        except UnicodeDecodeError as error:
            raise DataError(f"{where} is not UTF-8 text ({error.reason} at byte "
                            f"{error.start}); it is not a vocab.json") from error
        except json.JSONDecodeError as error:
            raise DataError(f"{where} is not valid JSON: {error}") from error
        try:
            return cls.from_dict(data)
        except DataError as error:
            raise DataError(f"{where}: {error}") from None


def ranked_words(
    counts: Counter[str], min_count: int = 1, exclude: Iterable[str] = ()
) -> list[str]:
    """Words with count >= min_count, most frequent first, ties by token string."""
    excluded = set(exclude)
    kept = [(word, n) for word, n in counts.items() if n >= min_count and word not in excluded]
    kept.sort(key=lambda item: (-item[1], item[0]))
    return [word for word, _ in kept]
