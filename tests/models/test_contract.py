"""The contract (tests/contract.py) over the models: classifiers, the LM and the biLM."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnlab.models import ClassifierConfig, SequenceClassifier
from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from rnnlab.models.language_model import LanguageModel, LanguageModelConfig, token_nll
from tests.contract import BATCH, HIDDEN, LENGTHS, Batch, Subject, contract_cases

# Sizes that differ from each other and from the contract's BATCH 3, TIME 4, HIDDEN 6.
VOCAB, EMBEDDING, DENSE = 11, 5, 7


def _token_ids(generator: torch.Generator, time: int) -> torch.Tensor:
    """``(batch, time)`` ids; 0 is left out so a padded row never looks like a real one."""
    return torch.randint(1, VOCAB, (BATCH, time), generator=generator)


def classifier_subject(arrangement: str, *, masked: bool, padding: str,
                       **overrides) -> Subject:
    """``SequenceClassifier``: ids ``(batch, time)`` → logits ``(batch, num_outputs)``,
    1 output for 2 classes, one per class otherwise."""
    config = ClassifierConfig.from_arrangement(
        arrangement, vocab_size=VOCAB, embedding_size=EMBEDDING, hidden_size=HIDDEN,
        dense_size=DENSE, masked=masked, padding=padding, **overrides)
    outputs = 1 if config.num_classes == 2 else config.num_classes

    def run(model, batch: Batch):
        if batch.lengths is None:
            return {"logits": model(batch.inputs)}
        return {"logits": model(batch.inputs, lengths=batch.lengths)}

    def loss(result, batch: Batch) -> torch.Tensor:
        labels = torch.arange(BATCH, device=batch.inputs.device) % config.num_classes
        logits = result["logits"]
        if outputs == 1:
            return F.binary_cross_entropy_with_logits(logits.squeeze(-1), labels.to(logits))
        return F.cross_entropy(logits, labels)

    name = "-".join(["classifier", arrangement, "masked" if masked else "unmasked", padding,
                     *(f"{key}_{value}" for key, value in overrides.items())])
    return Subject(
        name=name,
        build=lambda seed: SequenceClassifier(config, seed=seed),
        make_inputs=_token_ids,
        run=run,
        expected_shapes=lambda batch: {"logits": (BATCH, outputs)},
        loss=loss,
        # Unmasked models read the padding on purpose (Keras without mask_zero).
        lengths=LENGTHS if masked else None,
        lengths_required=masked,
        padding_sides=(padding,),
        padding_entry="embedding",
    )


def language_model_subject(cell: str) -> Subject:
    """``LanguageModel``: logits ``(batch, time, vocab)``; ``run(ids).state`` is ``(h, c)``,
    each ``(layers, batch, hidden)``. It takes no lengths."""
    config = LanguageModelConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_layers=2,
                                 embedding_size=EMBEDDING, cell=cell)

    def build(seed: int) -> LanguageModel:
        torch.manual_seed(seed)
        return LanguageModel(config)

    def run(model, batch: Batch):
        # ``model(ids)`` is what torch.compile compiles; the state comes from ``run``.
        h_n, c_n = model.run(batch.inputs).state
        return {"logits": model(batch.inputs), "h_n": h_n, "c_n": c_n}

    def expected_shapes(batch: Batch):
        state = (config.num_layers, BATCH, HIDDEN)
        return {"logits": (BATCH, batch.time, VOCAB), "h_n": state, "c_n": state}

    def loss(result, batch: Batch) -> torch.Tensor:
        return token_nll(result["logits"][:, :-1], batch.inputs[:, 1:])

    return Subject(name=f"language_model-2layer-{cell}", build=build, make_inputs=_token_ids,
                   run=run, expected_shapes=expected_shapes, loss=loss,
                   time_axes={"logits": 1})


def bidirectional_lm_subject(cell: str) -> Subject:
    """``BidirectionalLM``: ``{"forward", "backward"}`` logits, each ``(batch, time, vocab)``
    in input order; lengths with post padding (padded positions are the caller's to mask)."""
    config = BidirectionalLMConfig(vocab_size=VOCAB, embedding_size=EMBEDDING,
                                   hidden_size=HIDDEN, cell=cell)

    def build(seed: int) -> BidirectionalLM:
        torch.manual_seed(seed)
        return BidirectionalLM(config)

    def run(model, batch: Batch):
        if batch.lengths is None:
            return dict(model(batch.inputs))
        return dict(model(batch.inputs, lengths=batch.lengths))

    def loss(result, batch: Batch) -> torch.Tensor:
        # forward[:, t] predicts ids[:, t+1] and backward[:, t] predicts ids[:, t-1], where
        # both positions are real.
        real = batch.real_mask()
        both = real[:, 1:] & real[:, :-1]
        ids = batch.inputs
        forward = F.cross_entropy(result["forward"][:, :-1][both], ids[:, 1:][both])
        backward = F.cross_entropy(result["backward"][:, 1:][both], ids[:, :-1][both])
        return forward + backward

    return Subject(
        name=f"bidirectional_lm-{cell}", build=build, make_inputs=_token_ids, run=run,
        expected_shapes=lambda batch: {"forward": (BATCH, batch.time, VOCAB),
                                       "backward": (BATCH, batch.time, VOCAB)},
        loss=loss, lengths=LENGTHS, padding_sides=("post",),
        time_axes={"forward": 1, "backward": 1}, padding_entry="embedding",
    )


SUBJECTS = [
    classifier_subject("SS_RSF_LSTM", masked=True, padding="pre"),
    classifier_subject("MS_RST_biGRU", masked=True, padding="post"),
    classifier_subject("MS_RSF_biLSTM", masked=True, padding="post", pooling="max",
                       num_classes=3, cell="layernorm"),
    classifier_subject("MS_RST_LSTM", masked=False, padding="pre"),
    language_model_subject("lstm"),
    language_model_subject("peephole"),
    bidirectional_lm_subject("lstm"),
]


@pytest.mark.parametrize(("subject", "check"), contract_cases(SUBJECTS))
def test_contract(subject, check):
    check(subject)
