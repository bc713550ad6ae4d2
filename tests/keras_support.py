"""Keras 3 on the torch backend, for the parity tests (keras is a dev extra)."""

from __future__ import annotations

import os

import pytest


def require_keras(reason: str) -> tuple[object, list]:
    """Import keras with the torch backend, or skip the module; returns (keras, pytestmark).

    The backend must be chosen before keras is first imported, so this runs at module top.
    """
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    marks = [pytest.mark.keras,
             pytest.mark.skipif(keras.backend.backend() != "torch", reason=reason)]
    return keras, marks
