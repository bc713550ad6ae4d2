"""The torch-free predictor: texts -> ids and lengths (NumPy) -> onnxruntime -> predictions.

Text is encoded exactly as the run's own ``rnnlab predict RUN_DIR`` encodes it
(:func:`rnnlab.train.predict.predict_texts`): rnnlab's tokenizer, the run's vocabulary and
padding, truncated to ``maxlen``; a masked classifier's batch is cut to its longest text (the
padding changes nothing there), an unmasked one keeps ``maxlen`` columns, as in training::

    texts ─ tokenize ─ vocab ids ─ pad (pre/post, maxlen) ─ ids (batch, time), lengths (batch,)
                                                              └─ model.onnx ─ probabilities

A tagger's text is encoded as its training data was (:mod:`rnnlab.train.tagger_data`, which
imports torch and so is mirrored here, not imported): whitespace tokens; each token
lower-cased for the word vocabulary, spelled as typed for the character vocabulary (a word
longer than ``max_word_chars`` keeps its first ``word_prefix_chars`` characters and the rest
from its end); unknown words and characters become ``<unk>``. Tags come from the emissions by
the CRF's Viterbi in NumPy (:mod:`rnnlab.serving.viterbi`), or per-token argmax::

    "The dog ran" ─ word_ids (1, 3), char_ids (1, 3, 3), lengths (1,) ─ model.onnx
        ─ emissions (1, 3, tags) ─ Viterbi (crf.json) ─ The/DET dog/NOUN ran/VERB

Nothing on this path imports torch (tests/serving checks it in an interpreter where
``import torch`` fails).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rnnlab.data.batching import trim_to_longest
from rnnlab.data.encoding import EncodingConfig, encode_texts, pad_sequences
from rnnlab.data.text import TokenizerConfig
from rnnlab.export.bundle import Bundle, read_bundle
from rnnlab.serving.viterbi import argmax_decode, viterbi_decode


@dataclass(frozen=True)
class ClassPrediction:
    """The predicted class of one text and the model's probability for it."""

    label: str
    probability: float
    probabilities: tuple[float, ...]  # (num_classes,), in the order of the label names

    def describe(self) -> str:
        return f"{self.label}\t{self.probability:.4f}"


@dataclass(frozen=True)
class NextWords:
    """A language model's most likely next words after a text, most likely first."""

    words: tuple[str, ...]
    probabilities: tuple[float, ...]

    def describe(self) -> str:
        return " ".join(f"{word}:{p:.3f}" for word, p in zip(self.words, self.probabilities))


@dataclass(frozen=True)
class TaggedSentence:
    """A tagger's tags for one whitespace-tokenised text, one tag per token."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]

    def describe(self) -> str:
        """``The/DET dog/NOUN``, as ``rnnlab tag predict`` prints it."""
        return " ".join(f"{token}/{tag}" for token, tag in zip(self.tokens, self.tags))


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ImportError("rnnlab.serving needs onnxruntime: pip install 'rnnlab[serve]'"
                          ) from None
    return onnxruntime


class Predictor:
    """Predictions from an ONNX export directory (``rnnlab export --format onnx``).

    Args:
        model_dir: the export directory (model.onnx and its sidecars).
        batch_size: texts per onnxruntime call.
        threads: onnxruntime intra-op threads (1 suits a busy or shared machine).
    """

    def __init__(self, model_dir: str | os.PathLike[str], *, batch_size: int = 64,
                 threads: int = 1) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.bundle: Bundle = read_bundle(model_dir)
        if self.bundle.model_format != "onnx":
            raise ValueError(
                f"--model {str(model_dir)!r} holds a {self.bundle.model_format} export; the "
                "predictor runs ONNX: export the run with `rnnlab export RUN_DIR --format onnx`")
        onnxruntime = _onnxruntime()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(self.bundle.model_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {node.name for node in self.session.get_inputs()}
        self._input_names = tuple(self.bundle.manifest.get("inputs", ("ids", "lengths")))
        self.batch_size = batch_size
        settings = self.bundle.tokenizer
        if self.bundle.kind == "classifier":
            # "drop" would silently lose texts: a prediction keeps every text (truncated).
            self.encoding = replace(EncodingConfig(**settings["encoding"]), overlong="truncate")
            self.tokenizer = TokenizerConfig(**settings["tokenizer"])

    @property
    def kind(self) -> str:
        """"classifier", "language_model" or "tagger"."""
        return self.bundle.kind

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, ...]:
        """Batch tokenisation: ``texts`` -> ids ``(batch, time)`` int64, lengths ``(batch,)``
        (a tagger: word_ids ``(batch, time)``, char_ids ``(batch, time, chars)``, lengths)."""
        if self.kind == "tagger":
            return self._encode_for_tagger([text.split() for text in texts])
        if self.kind == "classifier":
            encoded = encode_texts(list(texts), self.bundle.vocab, self.encoding,
                                   self.tokenizer)
            ids, lengths = encoded.ids, encoded.lengths
            if self.bundle.manifest["masked"] and self.bundle.time is None:
                ids = np.ascontiguousarray(trim_to_longest(ids, lengths, self.bundle.padding))
            return ids, lengths
        sequences = [self.bundle.vocab.encode(text.split()) for text in texts]
        empty = [index for index, sequence in enumerate(sequences) if not sequence]
        if empty:
            raise ValueError(f"texts {empty} have no words; a language model predicts the "
                             "word after at least one")
        encoded = pad_sequences(sequences, EncodingConfig(maxlen=None,
                                                          padding=self.bundle.padding),
                                pad_id=self.bundle.manifest["pad_id"])
        return encoded.ids, encoded.lengths

    def _encode_for_tagger(self, sentences: list[list[str]]
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        empty = [index for index, tokens in enumerate(sentences) if not tokens]
        if empty:
            raise ValueError(f"texts {empty} have no tokens; a tagger tags at least one")
        settings, words, chars = self.bundle.tokenizer, self.bundle.vocab, self.bundle.chars
        assert chars is not None  # read_bundle reads chars.json for every tagger
        longest, prefix = settings["max_word_chars"], settings["word_prefix_chars"]
        lengths = np.array([len(tokens) for tokens in sentences], dtype=np.int64)
        spelled = [[chars.encode(token if len(token) <= longest
                                 else token[:prefix] + token[-(longest - prefix):])
                    for token in tokens] for tokens in sentences]
        width = max(len(ids) for row in spelled for ids in row)
        word_ids = np.zeros((len(sentences), int(lengths.max())), dtype=np.int64)
        char_ids = np.zeros((*word_ids.shape, width), dtype=np.int64)
        for row, tokens in enumerate(sentences):
            lowered = [token.lower() if settings["lowercase_words"] else token
                       for token in tokens]
            word_ids[row, :len(tokens)] = words.encode(lowered)
            for column, ids in enumerate(spelled[row]):
                char_ids[row, column, :len(ids)] = ids
        return word_ids, char_ids, lengths

    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        """The graph's outputs (see bundle.json ``outputs``) for one encoded batch, given in
        the order of bundle.json ``inputs`` (``ids, lengths``, or a tagger's three)."""
        feed = {name: value.astype(np.int64)
                for name, value in zip(self._input_names, inputs, strict=True)}
        return self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})

    def predict(self, texts: Sequence[str], *, top: int = 5
                ) -> list[ClassPrediction] | list[NextWords] | list[TaggedSentence]:
        """One prediction per text, in order (``top``: next words kept for a language model;
        a tagger tags each whitespace token)."""
        texts = list(texts)
        results: list = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            inputs = self.encode(batch)
            outputs = self.run(*inputs)
            if self.kind == "tagger":
                results.extend(self._tags(batch, outputs[0], inputs[-1]))
            elif self.kind == "classifier":
                results.extend(self._classes(outputs[1]))
            else:
                results.extend(self._next_words(outputs[1], top))
        return results

    def decode(self, emissions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """A tagger's tag ids ``(batch, time)`` (0 at padding) from its emissions: the CRF's
        Viterbi path, or per-token argmax (bundle.json ``decoder``)."""
        if self.bundle.crf is not None:
            return viterbi_decode(emissions, lengths, self.bundle.crf)[0]
        return argmax_decode(emissions, lengths)

    def _tags(self, texts: Sequence[str], emissions: np.ndarray,
              lengths: np.ndarray) -> list[TaggedSentence]:
        names = self.bundle.label_names
        paths = self.decode(emissions, lengths)
        return [TaggedSentence(tuple(text.split()),
                               tuple(names[int(tag)] for tag in path[:length]))
                for text, path, length in zip(texts, paths, lengths, strict=True)]

    def _classes(self, probabilities: np.ndarray) -> list[ClassPrediction]:
        labels = self.bundle.label_names
        return [ClassPrediction(labels[int(row.argmax())], float(row.max()),
                                tuple(float(p) for p in row)) for row in probabilities]

    def _next_words(self, log_probs: np.ndarray, top: int) -> list[NextWords]:
        tokens = self.bundle.vocab.tokens
        found = []
        for row in log_probs:
            best = np.argsort(-row, kind="stable")[:top]
            found.append(NextWords(tuple(tokens[i] for i in best),
                                   tuple(float(np.exp(row[i])) for i in best)))
        return found
