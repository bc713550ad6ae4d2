"""Using a saved run: predict labels for texts, evaluate on a dataset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from rnnlab.data import TextDataset, batch_tensors, encode_texts
from rnnlab.data.prepare import encode_split
from rnnlab.models import logits_to_probabilities
from rnnlab.train.metrics import evaluate_split, index_batches
from rnnlab.train.run_files import SavedClassifierRun


@dataclass(frozen=True)
class Prediction:
    """The predicted class of one text and the model's probability for it."""

    label: str
    probability: float
    probabilities: tuple[float, ...]  # (num_classes,), in the order of the run's label names


@torch.no_grad()
def predict_texts(
    run: SavedClassifierRun, texts: Sequence[str], batch_size: int = 256
) -> list[Prediction]:
    """Encode ``texts`` with the run's vocabulary and padding, and classify them."""
    if not texts:
        return []
    encoded = encode_texts(list(texts), run.vocab, run.encoding)
    predictions: list[Prediction] = []
    masked = run.model_config.masked
    for index in index_batches(len(encoded.ids), batch_size):
        ids, lengths, _ = batch_tensors(encoded.ids, encoded.lengths, None, index,
                                        padding=run.encoding.padding, trim=masked)
        probabilities = logits_to_probabilities(run.model(ids, lengths))
        for row in probabilities:
            best = int(row.argmax())
            predictions.append(Prediction(run.label_names[best], float(row[best]),
                                          tuple(float(p) for p in row)))
    return predictions


def evaluate_run(
    run: SavedClassifierRun, dataset: TextDataset, split: str = "test", batch_size: int = 256,
    progress: bool = False,
) -> dict[str, float | int | str]:
    """Loss and accuracy of a saved run on ``dataset``'s ``split`` (``progress``: a bar on a
    terminal).

    The dataset's labels must be the run's (same names, same order).
    """
    if tuple(dataset.label_names) != run.label_names:
        raise ValueError(f"the data's labels {list(dataset.label_names)} differ from the "
                         f"run's {list(run.label_names)}; evaluate on data with the same classes")
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be one of ['train', 'valid', 'test'], got {split!r}")
    texts = getattr(dataset, split)
    if len(texts) == 0:
        raise ValueError(f"the {split} split of {dataset.name!r} has no examples: nothing to "
                         "evaluate; choose another split")
    encoded = encode_split(texts, run.vocab, run.encoding)
    loss, accuracy = evaluate_split(run.model, encoded, padding=run.encoding.padding,
                                    batch_size=batch_size, progress=progress,
                                    description=f"evaluate {split}")
    return {"split": split, "examples": len(encoded), "loss": loss, "accuracy": accuracy}
