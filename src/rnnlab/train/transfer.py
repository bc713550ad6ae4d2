"""Building a classifier from pretrained artifacts: word2vec vectors, a pretrained bi-LM.

    config field            what it reads                          what the model becomes
    embedding_vectors=DIR   `rnnlab embed word2vec --out DIR`      embedding rows initialised
                                                                   (scaled to the init's spread)
    freeze_embedding        (with or without vectors)              embedding fixed in training
    encoder_run=RUN         `rnnlab lm nextword --out RUN`         ElmoClassifier: [x; ELMo]
    encoder_training        "frozen" (ELMo) / "finetune" (ULMFiT)  encoder fixed / trained

Both align vocabularies by word: a vector lands on the classifier id of its word, a bi-LM
reads the classifier's words through its own ids (unknown words as its ``<unk>``). What was
covered is returned as a JSON-ready ``transfer`` record that the run saves in config.json.
A bi-LM whose vocabulary covers less than :data:`MIN_TOKEN_COVERAGE` of the training tokens
does not fit the data and is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnlab.data.prepare import ClassificationData
from rnnlab.embeddings.alignment import align_vectors, coverage, matching_scale, token_counts
from rnnlab.embeddings.vectors import load_word_vectors
from rnnlab.models.classifier import SequenceClassifier
from rnnlab.models.config import ClassifierConfig
from rnnlab.models.elmo import BiLMEncoder, ElmoClassifier

__all__ = ["MIN_TOKEN_COVERAGE", "build_classifier", "check_pretrained_paths"]

MIN_TOKEN_COVERAGE = 0.5  # below this the bi-LM reads mostly <unk>: pretrained on other text


def load_encoder_run(path: str) -> Any:
    """The pretrained bi-LM run at ``path`` (a NextWordRun: ``model``, ``vocab``)."""
    from rnnlab.train.nextword_run import load_nextword_run

    with torch.random.fork_rng(devices=[]):  # building the bi-LM draws from the global RNG
        return load_nextword_run(path)


def check_pretrained_paths(config: ClassifierConfig, key: str = "model") -> None:
    """The artifacts ``config`` names exist and have the right kind and size, checked
    without the data (a study checks this before anything is written).

    Raises:
        ValueError: naming ``key`` (e.g. ``conditions.word2vec.embedding_vectors``), the
            path and the fix.
    """
    if config.embedding_vectors is not None:
        try:
            vectors = load_word_vectors(config.embedding_vectors)
        except ValueError as error:
            raise ValueError(f"{key}.embedding_vectors: {error}") from None
        if vectors.dim != config.embedding_size:
            raise ValueError(
                f"{key}.embedding_vectors: the vectors in {config.embedding_vectors!r} have "
                f"dimension {vectors.dim}, but embedding_size = {config.embedding_size}; set "
                f"embedding_size = {vectors.dim} or train vectors with --dim "
                f"{config.embedding_size}")
    if config.encoder_run is not None:
        path = Path(config.encoder_run)
        if not path.is_dir() or not (path / "checkpoint.pt").is_file():
            what = "does not exist" if not path.exists() else "holds no checkpoint.pt"
            raise ValueError(
                f"{key}.encoder_run: the pretrained bi-LM run {str(path)!r} {what}; train one "
                f"with `rnnlab lm nextword --data imdb-short --out {path}` (or point "
                f"encoder_run at an existing run directory)")


def build_classifier(config: ClassifierConfig, data: ClassificationData, *,
                     seed: int) -> tuple[SequenceClassifier, dict[str, Any] | None]:
    """The model ``config`` describes for ``data`` and, for a transfer config, what it read
    (``{"embedding_vectors": {...coverage}, "encoder_run": {...coverage}}``, else None)."""
    if not config.uses_pretrained and not config.freeze_embedding:
        return SequenceClassifier(config, seed=seed), None
    counts = token_counts(data.train.ids, len(data.vocab))
    record: dict[str, Any] = {}
    if config.encoder_run is not None:
        model: SequenceClassifier = _elmo_classifier(config, data, counts, seed, record)
    else:
        model = SequenceClassifier(config, seed=seed)
    if config.embedding_vectors is not None:
        vectors = load_word_vectors(config.embedding_vectors)
        # at the spread of the initialisation the classifier's learning rate suits
        scale = matching_scale(vectors, model.embedding.weight)
        covered = align_vectors(vectors, data.vocab, model.embedding.weight, counts, scale)
        record["embedding_vectors"] = {"path": config.embedding_vectors, "dim": vectors.dim,
                                       "scale": scale, **covered.to_dict()}
    if config.freeze_embedding:
        model.embedding.weight.requires_grad_(False)
    return model, record or None


def saved_classifier(config: ClassifierConfig) -> SequenceClassifier:
    """The architecture of a saved classifier run, for its checkpoint's state dict to load
    into (``rnnlab evaluate``, ``predict``): an ELMo-style one takes its bi-LM's shape from
    the encoder run it names, which must still exist; every weight, the encoder's and the
    id map included, then comes from the checkpoint."""
    if config.encoder_run is None:
        return SequenceClassifier(config)
    if not Path(config.encoder_run).is_dir():
        raise ValueError(
            f"this run is an ELMo-style classifier over the bi-LM run {config.encoder_run!r}, "
            "which is gone; its architecture is read from there (the weights are in the "
            "checkpoint): put the run back at that path")
    run = load_encoder_run(config.encoder_run)
    ids = torch.zeros(config.vocab_size, dtype=torch.int64)  # overwritten by the checkpoint
    encoder = BiLMEncoder(run.model, ids, padding=config.padding)
    return ElmoClassifier(config, encoder, finetune=config.encoder_training == "finetune")


def _elmo_classifier(config: ClassifierConfig, data: ClassificationData, counts: np.ndarray,
                     seed: int, record: dict[str, Any]) -> ElmoClassifier:
    run = load_encoder_run(config.encoder_run)  # type: ignore[arg-type]
    lm_vocab = run.vocab
    id_map = torch.tensor([lm_vocab.token_to_id(token) for token in data.vocab.tokens],
                          dtype=torch.int64)
    known = [token in lm_vocab and token != data.vocab.unk_token for token in data.vocab.tokens]
    covered = coverage(known, data.vocab, counts)
    if covered.token_share < MIN_TOKEN_COVERAGE:
        raise ValueError(
            f"the pretrained bi-LM run {config.encoder_run!r} does not fit the data "
            f"{data.name!r}: its vocabulary covers {covered.describe()}, below "
            f"{100 * MIN_TOKEN_COVERAGE:.0f} % of the tokens; pretrain it on this dataset's "
            f"training texts (rnnlab lm nextword --data {data.name} --out DIR)")
    encoder = BiLMEncoder(run.model, id_map, padding=config.padding)
    record["encoder_run"] = {"path": config.encoder_run, "training": config.encoder_training,
                             **covered.to_dict()}
    return ElmoClassifier(config, encoder, seed=seed,
                          finetune=config.encoder_training == "finetune")
