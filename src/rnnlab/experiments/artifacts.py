"""The pretrained files a study's runs read (word vectors, a bi-LM run), by their content.

A transfer study names its artifacts by path (``conditions.word2vec.embedding_vectors``). If a
file at that path is replaced between two invocations of the study (vectors retrained into
the same folder), the later runs of a condition would train on other vectors than its earlier
ones and the report would pair them as if they were one condition. The store records each
artifact's fingerprint when the study first meets it and refuses a different one later
(:meth:`rnnlab.experiments.store.ResultStore.check_artifacts`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rnnlab.data.download import sha256_of

ARTIFACT_FIELDS = ("embedding_vectors", "encoder_run")
# What of an artifact is read: a word-vectors folder's two files; a bi-LM run's vocabulary and
# checkpoint, whose sha256 sidecar (written with the checkpoint) stands for it when present.
_VECTOR_FILES = ("words.json", "vectors.npy")
_RUN_FILES = ("vocab.json", "config.json")


def study_artifacts(study: Any) -> dict[str, str]:
    """``{key: path}`` for every artifact the study's model overrides and conditions name
    (a :class:`StudyConfig`; a toy study names none); the key says where
    (``model.embedding_vectors``, ``conditions.elmo.encoder_run``)."""
    found: dict[str, str] = {}
    conditions = getattr(study, "conditions", None) or {}  # a toy study has none
    tables = {"model": getattr(study, "model", None),
              **{f"conditions.{name}": overrides for name, overrides in conditions.items()}}
    for where, table in tables.items():
        for field in ARTIFACT_FIELDS:
            if isinstance(table, dict) and table.get(field) is not None:
                found[f"{where}.{field}"] = str(table[field])
    return found


def fingerprint(path: str | Path) -> str:
    """A content hash of the artifact at ``path`` (a vectors folder or text file, or a bi-LM
    run directory), 16 hex digits."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir() and (path / "checkpoint.pt").is_file():  # a bi-LM run
        for name in _RUN_FILES:
            _add_file(digest, path / name)
        sidecar = path / "checkpoint.pt.sha256"
        if sidecar.is_file():
            digest.update(sidecar.read_bytes())
        else:
            _add_file(digest, path / "checkpoint.pt")
    elif path.is_dir():
        for name in _VECTOR_FILES:
            _add_file(digest, path / name)
    else:
        _add_file(digest, path)
    return digest.hexdigest()[:16]


def _add_file(digest: Any, path: Path) -> None:
    digest.update(path.name.encode() + b"\0")
    digest.update(sha256_of(path).encode() if path.is_file() else b"<missing>")


def study_fingerprints(study: Any) -> dict[str, tuple[str, str]]:
    """``{key: (path, fingerprint)}`` for :meth:`ResultStore.check_artifacts`."""
    return {key: (path, fingerprint(path)) for key, path in study_artifacts(study).items()}


def check_study_inputs(store: Any, study_id: int, study: Any, data: Any) -> None:
    """Refuse data or pretrained files that changed since the study first met them
    (a :class:`~rnnlab.experiments.store.ResultStore`, the study and its prepared data);
    a toy study's lengths are checked one by one, so it may grow by another T."""
    if hasattr(data, "fingerprint_parts"):  # hash each length's data once, not twice
        store.check_data(study_id, study.dataset, parts=data.fingerprint_parts())
    else:
        store.check_data(study_id, study.dataset, data.fingerprint())
    store.check_artifacts(study_id, study_fingerprints(study))
