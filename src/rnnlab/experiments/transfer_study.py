"""The transfer study of issue 12 (seed 000's comparison): one classifier, four conditions.

    condition   the classifier's input                         pretrained on
    baseline    its own embedding, random init (seed 002)      —
    word2vec    its embedding initialised from Word2Vec       the training texts (gensim)
    elmo        [x_k; ELMo_k] from the frozen bi-LM            the training texts (lm nextword)
    finetune    the same, the bi-LM trained too (ULMFiT)      the training texts

Run r of every condition uses seed ``base_seed + r`` (same batches, same initial weights of
the shared parts), so the report's paired differences against ``baseline`` remove the luck
both sides share. The pretrained artifacts come first (paths relative to the working
directory; a missing one is refused before anything is written, naming the key)::

    rnnlab embed word2vec --data imdb-short --out pretrained/imdb-short-word2vec
    rnnlab lm nextword --data imdb-short --out pretrained/imdb-short-bilm
    rnnlab compare --study transfer-imdb-short-quick
    rnnlab compare --study transfer-imdb-short-quick --arrangements baseline,word2vec

The bundled studies are kept as tables and checked when asked for, since the files they name
exist only after pretraining. ``--arrangements`` picks conditions of such a study.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TRANSFER_STUDIES", "transfer_study_data"]


def _conditions(prefix: str) -> dict[str, dict[str, Any]]:
    bilm = f"pretrained/{prefix}-bilm"
    return {
        "baseline": {},
        "word2vec": {"embedding_vectors": f"pretrained/{prefix}-word2vec"},
        "elmo": {"encoder_run": bilm},
        "finetune": {"encoder_run": bilm, "encoder_training": "finetune"},
    }


# The model of §4's best full-IMDB runs (benchmarks/RESULTS.md, run D): one bidirectional
# LSTM(128), masked max pooling, dense 64, dropout 0.5 on the word vectors, early stopping.
_MODEL = {"pooling": "max", "embedding_dropout": 0.5}
_TRAINING = {"batch_size": 64, "patience": 1}

TRANSFER_STUDIES: dict[str, dict[str, Any]] = {
    # minutes on one thread: 3 runs × 3 epochs × 4 conditions on 2,069 short reviews
    "transfer-imdb-short-quick": {
        "name": "transfer-imdb-short-quick", "dataset": "imdb-short",
        "arrangements": ["MS_RST_biLSTM"], "runs": 3, "epochs": 3, "masked": [True],
        "padding": "post", "vocab_size": 20_000, "maxlen": 100, "model": _MODEL,
        "training": {**_TRAINING, "batch_size": 32}, "conditions": _conditions("imdb-short"),
    },
    # the goal's protocol: 25k/25k, ≥ 3 runs; hours on one thread
    "transfer-imdb": {
        "name": "transfer-imdb", "dataset": "imdb", "arrangements": ["MS_RST_biLSTM"],
        "runs": 3, "epochs": 3, "masked": [True], "padding": "post", "vocab_size": 20_000,
        # reviews of similar length batched together: 1.7x fewer computed steps at 400
        "maxlen": 400, "model": _MODEL, "training": {**_TRAINING, "bucket_pool_batches": 50},
        "conditions": _conditions("imdb"),
    },
}


def transfer_study_data(name: str, only: tuple[str, ...] | None = None) -> dict[str, Any] | None:
    """The bundled transfer study ``name`` as a table (None if there is none), with only the
    conditions ``only`` when given."""
    if name not in TRANSFER_STUDIES:
        return None
    return select_conditions(TRANSFER_STUDIES[name], only)


def select_conditions(data: dict[str, Any], only: tuple[str, ...] | None) -> dict[str, Any]:
    """``data`` with only the conditions named in ``only`` (all when None), in its order."""
    conditions = data.get("conditions")
    if only is None or not isinstance(conditions, dict):
        return dict(data)
    unknown = [name for name in only if name not in conditions]
    if unknown:
        raise ValueError(f"--arrangements {','.join(only)}: {unknown} are not conditions of "
                         f"the study; its conditions are {list(conditions)}")
    # the whole declared order stays: a study grown a few conditions at a time keeps its
    # first (the report's reference) first
    order = data.get("condition_order") or list(conditions)
    return {**data, "condition_order": order,
            "conditions": {name: value for name, value in conditions.items() if name in only}}
