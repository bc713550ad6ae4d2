"""rnnlab.serving: run an ONNX export with onnxruntime and NumPy only (no torch).

    >>> from rnnlab.serving import Predictor                  # doctest: +SKIP
    >>> Predictor("exports/x").predict(["a tender, funny film"])   # doctest: +SKIP
    [ClassPrediction(label='pos', probability=0.91, probabilities=(0.09, 0.91))]

Needs the ``serve`` extra (``pip install 'rnnlab[serve]'``: onnxruntime and numpy).
"""

from rnnlab.serving.predictor import ClassPrediction, NextWords, Predictor

__all__ = ["ClassPrediction", "NextWords", "Predictor"]
