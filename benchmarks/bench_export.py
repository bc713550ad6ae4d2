"""Reviews per second: the ONNX export on onnxruntime vs the same model in PyTorch eager.

    .venv/bin/python benchmarks/bench_export.py [--reviews 256] [--repeats 3]

Seed 002's classifier sizes (vocabulary 5,000, embedding 64, hidden 128, dense 64, maxlen
100), two arrangements: SS_RSF_LSTM unmasked (seed 002 itself) and SS_RSF_GRU masked. Both
sides go from raw text to class probabilities: rnnlab's tokenizer and the run's encoding,
then ``model(ids, lengths)`` + softmax under ``torch.no_grad()`` (what ``rnnlab predict
RUN_DIR`` does) or :class:`rnnlab.serving.Predictor` (what ``rnnlab predict --model DIR``
does), each on one thread, interleaved repeat by repeat; the best repeat is reported.
Weights are untrained (throughput does not depend on them); texts are imdb-short's test
reviews, the vocabulary fitted on its train split.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from rnnlab.data import EncodingConfig, VocabConfig, encode_dataset, encode_texts, load_dataset
from rnnlab.data.batching import batch_tensors
from rnnlab.export import export_classifier
from rnnlab.models import ClassifierConfig, SequenceClassifier, logits_to_probabilities
from rnnlab.serving import Predictor

ARRANGEMENTS = {"SS_RSF_LSTM": {"masked": False}, "SS_RSF_GRU": {"masked": True}}


def torch_reviews_per_second(model, data, texts, batch_size: int) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        for first in range(0, len(texts), batch_size):
            encoded = encode_texts(texts[first:first + batch_size], data.vocab, data.encoding)
            index = torch.arange(len(encoded.ids)).numpy()
            ids, lengths, _ = batch_tensors(encoded.ids, encoded.lengths, None, index,
                                            padding=data.encoding.padding,
                                            trim=model.config.masked)
            logits_to_probabilities(model(ids, lengths))
    return len(texts) / (time.perf_counter() - start)


def onnx_reviews_per_second(predictor: Predictor, texts, batch_size: int) -> float:
    predictor.batch_size = batch_size
    start = time.perf_counter()
    predictor.predict(texts)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = encode_dataset(load_dataset("imdb-short"), vocab_config=VocabConfig(max_size=5000),
                          encoding=EncodingConfig(maxlen=100))
    texts = list(load_dataset("imdb-short").test.texts[:args.reviews])
    print(f"torch {torch.__version__}, {len(texts)} reviews, {args.repeats} repeats, 1 thread")
    print("| arrangement | batch | PyTorch eager reviews/s | onnxruntime reviews/s | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, options in ARRANGEMENTS.items():
        config = ClassifierConfig.from_arrangement(name, vocab_size=len(data.vocab), **options)
        model = SequenceClassifier(config).eval()
        with tempfile.TemporaryDirectory() as root:
            out = Path(root) / "export"
            export_classifier(model, data.vocab, data.label_names, data.encoding, out, "onnx")
            predictor = Predictor(out, threads=1)
            for batch_size in (1, 64):
                best_torch = best_onnx = 0.0
                for _ in range(args.repeats):  # interleaved: load changes hit both alike
                    best_torch = max(best_torch,
                                     torch_reviews_per_second(model, data, texts, batch_size))
                    best_onnx = max(best_onnx,
                                    onnx_reviews_per_second(predictor, texts, batch_size))
                print(f"| {name} {'masked' if options['masked'] else 'unmasked'} | "
                      f"{batch_size} | {best_torch:.0f} | {best_onnx:.0f} | "
                      f"{best_onnx / best_torch:.2f} |", flush=True)


if __name__ == "__main__":
    main()
