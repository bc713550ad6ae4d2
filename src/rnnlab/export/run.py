"""Export a trained run (or a model in memory): write, validate, then rename into place.

    export_run("runs/x", "exports/x", "onnx")      # what `rnnlab export` calls

The files are written into a hidden temporary directory beside ``out``, the written model is
validated against PyTorch (:mod:`rnnlab.export.validation`), and only then is the directory
renamed to ``out``: an interrupted or failed export leaves no ``out`` at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnlab.data import EncodingConfig, TokenizerConfig, Vocab
from rnnlab.export.bundle import MODEL_FILES, write_sidecars
from rnnlab.export.graphs import (
    CLASSIFIER_OUTPUTS,
    LM_OUTPUTS,
    ClassifierGraph,
    LanguageModelGraph,
    padded_batch,
    time_axis,
    validation_lengths,
)
from rnnlab.export.validation import check_against_eager, onnx_runner, program_runner
from rnnlab.models import SequenceClassifier
from rnnlab.models.language_model import LanguageModel
from rnnlab.train.run_files import load_run

FORMATS = tuple(MODEL_FILES)
EXAMPLE_TIME = 7  # a language model's example time when time is dynamic (any works)


def export_run(run_dir: str | os.PathLike[str], out: str | os.PathLike[str],
               model_format: str = "onnx", *, padding: str | None = None) -> Path:
    """Export the run in ``run_dir`` to the directory ``out`` (which must not exist, or be
    empty). ``padding`` is the side a language model's inputs are padded on (default "post");
    a classifier's is the one it was trained with. Returns ``out``."""
    _check_format(model_format)
    run = load_run(run_dir)
    source = {"run_dir": str(Path(run_dir)), "epoch": run.epoch}
    if run.kind == "classifier":
        if padding is not None and padding != run.encoding.padding:
            raise ValueError(f"--padding {padding!r}: a classifier takes the padding it was "
                             f"trained with ({run.encoding.padding!r}); omit --padding")
        config = {"model": run.model_config.to_dict(), "train": asdict(run.train_config)}
        return export_classifier(run.model, run.vocab, run.label_names, run.encoding, out,
                                 model_format, config=config, source=source)
    config = {"model": asdict(run.model_config), "train": asdict(run.train_config),
              "corpus": run.corpus_spec}
    return export_language_model(run.model, run.vocab, out, model_format,
                                 padding=padding or "post", config=config, source=source)


def export_classifier(model: SequenceClassifier, vocab: Vocab, label_names: tuple[str, ...],
                      encoding: EncodingConfig, out: str | os.PathLike[str],
                      model_format: str = "onnx", *, config: dict[str, Any] | None = None,
                      source: dict[str, Any] | None = None) -> Path:
    """Export a classifier whose inputs are encoded with ``vocab`` and ``encoding``."""
    _check_format(model_format)
    model_config = model.config
    if encoding.padding != model_config.padding and model_config.masked:
        raise ValueError(f"encoding.padding {encoding.padding!r} differs from the model's "
                         f"padding {model_config.padding!r}")
    fixed = time_axis("classifier", model_config.resolved_cell, model_config.masked,
                      encoding.maxlen, model_format)
    time = fixed or encoding.maxlen or EXAMPLE_TIME
    manifest = {"kind": "classifier", "outputs": list(CLASSIFIER_OUTPUTS),
                "label_names": list(label_names), "masked": model_config.masked}
    tokenizer = {"kind": "rnnlab", "tokenizer": asdict(TokenizerConfig()),
                 "encoding": asdict(encoding)}
    return _export(ClassifierGraph(model), out, model_format, vocab_size=len(vocab),
                   padding=encoding.padding, fixed_time=fixed, example_time=time,
                   manifest=manifest, vocab=vocab, label_names=label_names,
                   tokenizer=tokenizer, config=config or {"model": model_config.to_dict()},
                   source=source)


def export_language_model(model: LanguageModel, vocab: Vocab, out: str | os.PathLike[str],
                          model_format: str = "onnx", *, padding: str = "post",
                          config: dict[str, Any] | None = None,
                          source: dict[str, Any] | None = None) -> Path:
    """Export a language model; its inputs are whitespace-separated words of ``vocab``."""
    _check_format(model_format)
    if padding not in ("pre", "post"):
        raise ValueError(f"--padding must be 'pre' or 'post', got {padding!r}")
    fixed = time_axis("language_model", model.config.cell, False, None, model_format)
    manifest = {"kind": "language_model", "outputs": list(LM_OUTPUTS), "label_names": []}
    tokenizer = {"kind": "whitespace", "pad_id": 0}
    return _export(LanguageModelGraph(model, padding), out, model_format,
                   vocab_size=len(vocab), padding=padding, fixed_time=fixed,
                   example_time=EXAMPLE_TIME, manifest=manifest, vocab=vocab, label_names=(),
                   tokenizer=tokenizer, config=config or {"model": asdict(model.config)},
                   source=source)


def _check_format(model_format: str) -> None:
    if model_format not in FORMATS:
        raise ValueError(f"--format must be one of {list(FORMATS)}, got {model_format!r}")


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "is a file" if not out.is_dir() else "already exists and is not empty"
        raise ValueError(f"--out {str(out)!r} {what}; choose a new directory (exports are "
                         "never overwritten)")


def _export(graph: nn.Module, out: str | os.PathLike[str], model_format: str, *,
            vocab_size: int, padding: str, fixed_time: int | None, example_time: int,
            manifest: dict[str, Any], vocab: Vocab, label_names: tuple[str, ...],
            tokenizer: dict[str, Any], config: dict[str, Any],
            source: dict[str, Any] | None) -> Path:
    out = Path(out)
    _check_out(out)
    graph.eval()
    lengths = validation_lengths(example_time)
    ids = padded_batch(lengths, example_time, vocab_size, padding, torch.Generator())
    lengths_t = torch.tensor(lengths, dtype=torch.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        model_path = staging / MODEL_FILES[model_format]
        dynamic_time = fixed_time is None
        if model_format == "onnx":
            from rnnlab.export.onnx import save_onnx

            save_onnx(graph, ids, lengths_t, dynamic_time, tuple(manifest["outputs"]),
                      model_path)
            runner = onnx_runner(model_path)
        else:
            from rnnlab.export.torch_export import load_program, save_program

            save_program(graph, ids, lengths_t, dynamic_time, model_path)
            runner = program_runner(load_program(model_path))
        times = [example_time] if fixed_time else [example_time, max(1, example_time // 2 + 1)]
        validation = check_against_eager(graph, runner, times=times, vocab_size=vocab_size,
                                         padding=padding)
        manifest = {
            **manifest, "model_format": model_format, "model_file": model_path.name,
            "inputs": {"ids": ["batch", "time"], "lengths": ["batch"]},
            "padding": padding, "pad_id": vocab.pad_id or 0, "time": fixed_time,
            "validation": validation, "source": source or {},
            "versions": _versions(model_format),
        }
        write_sidecars(staging, manifest, vocab, label_names, tokenizer, config)
        if out.is_dir():  # an empty directory: rename replaces it
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _versions(model_format: str) -> dict[str, str]:
    versions = {"torch": torch.__version__}
    if model_format == "onnx":
        import onnx
        import onnxruntime
        import onnxscript

        versions.update(onnx=onnx.__version__, onnxscript=onnxscript.__version__,
                        onnxruntime=onnxruntime.__version__)
    return versions
