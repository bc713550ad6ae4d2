"""How well a tagger tags: accuracy overall, on known and unknown words, per tag, the confusion
matrix, and the most-frequent-tag baseline measured on the same tokens.

The baseline tags each word with its most frequent training tag (ties: the tag name first in
sorted order), looked up by the word as written, then lower-cased, and gives words seen in
neither form the most frequent training tag overall. It is the floor any tagger must clear
(about 90 % on Brown's 87-tag set; Charniak et al. 1993).

    | tokens              |  count | tagger | most-frequent-tag |
    |---------------------|-------:|-------:|------------------:|
    | all                 | 120711 | 97.1 % |            91.2 % |
    | known words         | ...    |
    | unknown words       | ...    |
    | tag NOUN            | ...    |     (per-tag rows: accuracy on tokens whose gold tag is it)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnlab.data.brown import Sentence


@dataclass(frozen=True)
class TaggingScores:
    """Counts behind every accuracy of the report (fractions in [0, 1])."""

    tag_names: tuple[str, ...]
    confusion: np.ndarray  # (tags, tags) int64: [gold, predicted]
    known_correct: int
    known_total: int
    unknown_correct: int
    unknown_total: int

    @property
    def accuracy(self) -> float:
        total = self.known_total + self.unknown_total
        return (self.known_correct + self.unknown_correct) / total if total else float("nan")

    @property
    def known_accuracy(self) -> float:
        return self.known_correct / self.known_total if self.known_total else float("nan")

    @property
    def unknown_accuracy(self) -> float:
        return self.unknown_correct / self.unknown_total if self.unknown_total else float("nan")

    def per_tag(self) -> dict[str, tuple[int, float]]:
        """Gold tag → (tokens, accuracy on them), for tags present in the gold data."""
        totals, hits = self.confusion.sum(axis=1), np.diag(self.confusion)
        return {tag: (int(totals[i]), float(hits[i] / totals[i]))
                for i, tag in enumerate(self.tag_names) if totals[i]}

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "known_accuracy": self.known_accuracy,
                "unknown_accuracy": self.unknown_accuracy, "tokens": int(self.confusion.sum()),
                "known_tokens": self.known_total, "unknown_tokens": self.unknown_total,
                "per_tag": {tag: {"tokens": count, "accuracy": accuracy}
                            for tag, (count, accuracy) in self.per_tag().items()},
                "tag_names": list(self.tag_names), "confusion": self.confusion.tolist()}


def score_tags(gold: Sequence[Sequence[int]], predicted: Sequence[Sequence[int]],
               known: Sequence[Sequence[bool]], tag_names: Sequence[str]) -> TaggingScores:
    """Scores from per-sentence gold and predicted tag ids and known-word flags."""
    gold_ids = np.concatenate([np.asarray(s, dtype=np.int64) for s in gold])
    predicted_ids = np.concatenate([np.asarray(s, dtype=np.int64) for s in predicted])
    known_flags = np.concatenate([np.asarray(s, dtype=bool) for s in known])
    if not gold_ids.shape == predicted_ids.shape == known_flags.shape:
        raise ValueError(f"gold, predicted and known must have the same tokens, got "
                         f"{gold_ids.shape}, {predicted_ids.shape}, {known_flags.shape}")
    size = len(tag_names)
    confusion = np.bincount(gold_ids * size + predicted_ids, minlength=size * size)
    right = gold_ids == predicted_ids
    return TaggingScores(tuple(tag_names), confusion.reshape(size, size).astype(np.int64),
                         int(right[known_flags].sum()), int(known_flags.sum()),
                         int(right[~known_flags].sum()), int((~known_flags).sum()))


def most_frequent_tag_baseline(train: Sequence[Sentence], sentences: Sequence[Sentence],
                               tag_names: Sequence[str]) -> list[list[int]]:
    """Tag ids the baseline gives ``sentences`` (see the module docstring)."""
    by_form: dict[str, Counter[str]] = defaultdict(Counter)
    by_lower: dict[str, Counter[str]] = defaultdict(Counter)
    overall: Counter[str] = Counter()
    for sentence in train:
        for word, tag in sentence:
            by_form[word][tag] += 1
            by_lower[word.lower()][tag] += 1
            overall[tag] += 1

    def best(counts: Counter[str]) -> str:
        return min(counts, key=lambda tag: (-counts[tag], tag))

    index = {tag: i for i, tag in enumerate(tag_names)}
    form_tag = {word: index[best(c)] for word, c in by_form.items()}
    lower_tag = {word: index[best(c)] for word, c in by_lower.items()}
    fallback = index[best(overall)]
    return [[form_tag.get(w, lower_tag.get(w.lower(), fallback)) for w, _ in s]
            for s in sentences]


def _percent(value: float) -> str:
    return "–" if value != value else f"{100 * value:.2f} %"


def format_report(tagger: TaggingScores, baseline: TaggingScores, *, title: str,
                  max_confusion_tags: int = 20, top_confusions: int = 15) -> str:
    """Markdown: the accuracy table (tagger and baseline side by side) and the confusions."""
    lines = [f"## {title}", "", "| tokens | count | tagger | most-frequent-tag |",
             "|---|---:|---:|---:|"]
    rows = [("all", int(tagger.confusion.sum()), tagger.accuracy, baseline.accuracy),
            ("known words", tagger.known_total, tagger.known_accuracy, baseline.known_accuracy),
            ("unknown words", tagger.unknown_total, tagger.unknown_accuracy,
             baseline.unknown_accuracy)]
    base_tags = baseline.per_tag()
    for tag, (count, accuracy) in tagger.per_tag().items():
        rows.append((f"tag `{tag}`", count, accuracy, base_tags[tag][1]))
    lines += [f"| {name} | {count} | {_percent(a)} | {_percent(b)} |" for name, count, a, b in rows]
    lines += ["", _confusion_text(tagger, max_confusion_tags, top_confusions)]
    return "\n".join(lines) + "\n"


def _confusion_text(scores: TaggingScores, max_tags: int, top: int) -> str:
    matrix, names = scores.confusion, scores.tag_names
    present = [i for i in range(len(names)) if matrix[i].sum() or matrix[:, i].sum()]
    if len(present) <= max_tags:
        header = "| gold \\ predicted | " + " | ".join(f"`{names[i]}`" for i in present) + " |"
        lines = ["Confusion matrix (rows: gold tag, columns: predicted tag):", "", header,
                 "|---|" + "---:|" * len(present)]
        for i in present:
            cells = " | ".join(str(int(matrix[i, j])) for j in present)
            lines.append(f"| `{names[i]}` | {cells} |")
        return "\n".join(lines)
    errors = [(int(matrix[i, j]), names[i], names[j]) for i in present for j in present
              if i != j and matrix[i, j]]
    errors.sort(key=lambda item: (-item[0], item[1], item[2]))
    lines = [f"The {top} most frequent confusions ({len(present)} tags; the whole matrix is in "
             f"report.json):", "", "| gold | predicted | tokens |", "|---|---|---:|"]
    lines += [f"| `{g}` | `{p}` | {n} |" for n, g, p in errors[:top]]
    return "\n".join(lines)
