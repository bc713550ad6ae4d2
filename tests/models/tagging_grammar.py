"""A tiny tagging grammar whose ambiguous words only context can resolve.

    sentence := DET noun VERB-word [DET noun] [.]
    "fly", "can" and "fish" are nouns after a determiner and verbs after a noun

so a tagger that reads each word alone gets them wrong; one that reads the neighbours does not.
"""

from __future__ import annotations

import numpy as np

from rnnlab.data.tagging import TaggingDataset

DETERMINERS = ("the", "a", "every")
NOUNS = ("dog", "cat", "bird", "Mary")
VERBS = ("sees", "likes", "chases")
AMBIGUOUS = ("fly", "can", "fish")  # NOUN after DET, VERB after NOUN
TAGS = (".", "DET", "NOUN", "VERB")


def sentences(count: int, seed: int) -> tuple[tuple[tuple[str, str], ...], ...]:
    rng = np.random.default_rng(seed)

    def pick(options: tuple[str, ...]) -> str:
        return str(options[int(rng.integers(len(options)))])

    made = []
    for _ in range(count):
        pairs = [(pick(DETERMINERS), "DET"), (pick(NOUNS + AMBIGUOUS), "NOUN"),
                 (pick(VERBS + AMBIGUOUS), "VERB")]
        if rng.random() < 0.5:
            pairs += [(pick(DETERMINERS), "DET"), (pick(NOUNS + AMBIGUOUS), "NOUN")]
        if rng.random() < 0.5:
            pairs.append((".", "."))
        made.append(tuple(pairs))
    return tuple(made)


def grammar_dataset(train: int = 160, valid: int = 20, test: int = 40) -> TaggingDataset:
    return TaggingDataset("grammar", sentences(train, 1), sentences(valid, 2),
                          sentences(test, 3), TAGS)
