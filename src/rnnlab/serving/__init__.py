"""rnnlab.serving: run an ONNX export with onnxruntime and NumPy only (no torch).

    >>> from rnnlab.serving import Predictor                  # doctest: +SKIP
    >>> Predictor("exports/x").predict(["a tender, funny film"])   # doctest: +SKIP
    [ClassPrediction(label='pos', probability=0.91, probabilities=(0.09, 0.91))]
    >>> Predictor("exports/tagger").predict(["The dog ran"])[0].describe()  # doctest: +SKIP
    'The/DET dog/NOUN ran/VERB'

Needs the ``serve`` extra (``pip install 'rnnlab[serve]'``: onnxruntime and numpy).
"""

from rnnlab.serving.predictor import ClassPrediction, NextWords, Predictor, TaggedSentence
from rnnlab.serving.viterbi import viterbi_decode

__all__ = ["ClassPrediction", "NextWords", "Predictor", "TaggedSentence", "viterbi_decode"]
