"""A language model's export: the predictor's next words are PyTorch's, most likely first."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.data import Vocab
from rnnlab.export import export_language_model
from rnnlab.models.language_model import LanguageModel, LanguageModelConfig
from rnnlab.serving import NextWords, Predictor

VOCAB = Vocab(("<unk>", "<eos>", *(f"w{i}" for i in range(20))), pad_token=None)


def test_next_words_are_the_eager_models_top_words(tmp_path):
    model = LanguageModel(LanguageModelConfig(vocab_size=len(VOCAB), hidden_size=6,
                                              embedding_size=5, num_layers=1,
                                              init_scale=1.0)).eval()
    export_language_model(model, VOCAB, tmp_path / "lm", "onnx", padding="post")
    predictor = Predictor(tmp_path / "lm")
    texts = ["w3 w4 w9 w1", "w5", "w2 never-seen"]
    got = predictor.predict(texts, top=3)
    for text, prediction in zip(texts, got, strict=True):
        ids = torch.tensor([VOCAB.encode(text.split())])
        with torch.no_grad():
            probabilities = torch.softmax(model(ids)[0, -1], dim=-1).numpy()
        best = np.argsort(-probabilities, kind="stable")[:3]
        assert isinstance(prediction, NextWords)
        assert prediction.words == tuple(VOCAB.tokens[i] for i in best)
        assert prediction.probabilities == pytest.approx(probabilities[best], abs=1e-5)
    with pytest.raises(ValueError, match=r"texts \[1\] have no words"):
        predictor.predict(["w3", "   "])
