"""Export a trained run (or a model in memory): write, validate, then rename into place.

    export_run("runs/x", "exports/x", "onnx")      # what `rnnlab export` calls
    export_run("runs/tagger", "exports/tagger")   # an `rnnlab tag train` run, too

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

from rnnlab.data import EncodingConfig, TokenizerConfig, Vocab
from rnnlab.export.bundle import CHARS, CRF, MODEL_FILES, write_sidecars
from rnnlab.export.graphs import (
    ClassifierGraph,
    ExportGraph,
    LanguageModelGraph,
    TaggerGraph,
    time_axis,
    validation_lengths,
)
from rnnlab.export.validation import check_against_eager, onnx_runner, program_runner
from rnnlab.models import SequenceClassifier
from rnnlab.models.language_model import LanguageModel
from rnnlab.models.tagger import Tagger
from rnnlab.train.run_files import load_run
from rnnlab.train.tagger_data import MAX_WORD_CHARS, TaggerVocabs
from rnnlab.train.tagger_eval import load_tagger_run
from rnnlab.train.tagger_run import CHARS as RUN_CHARS

FORMATS = tuple(MODEL_FILES)
EXAMPLE_TIME = 7  # the example time when time is dynamic and no maxlen fixes one (any works)
# How a tagger's training data spells a word (train/tagger_data.py TaggerVocabs.char_ids):
# a word longer than MAX_WORD_CHARS keeps its first WORD_PREFIX_CHARS characters and its last
# MAX_WORD_CHARS - WORD_PREFIX_CHARS (tests/serving/test_tagger.py checks the two agree).
WORD_PREFIX_CHARS = 10


def export_run(run_dir: str | os.PathLike[str], out: str | os.PathLike[str],
               model_format: str = "onnx", *, padding: str | None = None) -> Path:
    """Export the run in ``run_dir`` to the directory ``out`` (which must not exist, or be
    empty): a classifier, a language model or a tagger (an `rnnlab tag train` run, told apart
    by its chars.json before :func:`load_run`, which refuses taggers). ``padding`` is the side
    a language model's inputs are padded on (default "post"); a classifier's is the one it was
    trained with, a tagger's post. Returns ``out``."""
    _check_format(model_format)
    if (Path(run_dir) / RUN_CHARS).is_file():  # only `rnnlab tag train` writes chars.json
        return _export_tagger_run(run_dir, out, model_format, padding)
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


def _export_tagger_run(run_dir: str | os.PathLike[str], out: str | os.PathLike[str],
                       model_format: str, padding: str | None) -> Path:
    if padding not in (None, "post"):
        raise ValueError(f"--padding {padding!r}: a tagger takes post padding (real tokens "
                         "first, as it was trained); omit --padding")
    run = load_tagger_run(run_dir)
    config = {"model": run.model.config.to_dict(), "data": run.data_spec}
    source = {"run_dir": str(Path(run_dir)), "epoch": run.payload.get("epoch")}
    return export_tagger(run.model, run.vocabs, out, model_format, config=config,
                         source=source)


def export_tagger(model: Tagger, vocabs: TaggerVocabs, out: str | os.PathLike[str],
                  model_format: str = "onnx", *, config: dict[str, Any] | None = None,
                  source: dict[str, Any] | None = None) -> Path:
    """Export a tagger: its emissions graph, the word and character vocabularies, the tag
    names and, with a CRF, the CRF's scores (crf.json) for Viterbi decoding outside torch."""
    _check_format(model_format)
    model_config = model.config
    fixed = time_axis("tagger", model_config.cell, None, model_format)
    decoder = "crf" if model.crf is not None else "argmax"
    manifest = {"kind": "tagger", "label_names": list(vocabs.tags), "decoder": decoder}
    tokenizer = {"kind": "whitespace", "lowercase_words": True,
                 "max_word_chars": MAX_WORD_CHARS, "word_prefix_chars": WORD_PREFIX_CHARS}
    extra: dict[str, Any] = {CHARS: vocabs.chars.to_dict()}
    if model.crf is not None:
        extra[CRF] = {name: getattr(model.crf, name).detach().tolist()
                      for name in ("transitions", "start", "end")}
    return _export(TaggerGraph(model), out, model_format, fixed_time=fixed,
                   example_time=EXAMPLE_TIME, manifest=manifest, vocab=vocabs.words,
                   label_names=vocabs.tags, tokenizer=tokenizer,
                   config=config or {"model": model_config.to_dict()}, source=source,
                   extra=extra)


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
    fixed = time_axis("classifier", model_config.resolved_cell, encoding.maxlen, model_format)
    time = fixed or encoding.maxlen or EXAMPLE_TIME
    manifest = {"kind": "classifier", "label_names": list(label_names),
                "masked": model_config.masked}
    tokenizer = {"kind": "rnnlab", "tokenizer": asdict(TokenizerConfig()),
                 "encoding": asdict(encoding)}
    return _export(ClassifierGraph(model, encoding.padding), out, model_format,
                   fixed_time=fixed, example_time=time,
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
    fixed = time_axis("language_model", model.config.cell, None, model_format)
    manifest = {"kind": "language_model", "label_names": []}
    tokenizer = {"kind": "whitespace", "pad_id": 0}
    return _export(LanguageModelGraph(model, padding), out, model_format, fixed_time=fixed,
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


def _export(graph: ExportGraph, out: str | os.PathLike[str], model_format: str, *,
            fixed_time: int | None, example_time: int, manifest: dict[str, Any],
            vocab: Vocab, label_names: tuple[str, ...], tokenizer: dict[str, Any],
            config: dict[str, Any], source: dict[str, Any] | None,
            extra: dict[str, Any] | None = None) -> Path:
    out = Path(out)
    _check_out(out)
    graph.eval()
    inputs = graph.example_inputs(validation_lengths(example_time), example_time,
                                  torch.Generator())
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        model_path = staging / MODEL_FILES[model_format]
        dynamic_time = fixed_time is None
        if model_format == "onnx":
            from rnnlab.export.onnx import save_onnx

            save_onnx(graph, inputs, dynamic_time, model_path)
            runner = onnx_runner(model_path, tuple(graph.INPUTS))
        else:
            from rnnlab.export.torch_export import load_program, save_program

            save_program(graph, inputs, dynamic_time, model_path)
            runner = program_runner(load_program(model_path))
        times = [example_time] if fixed_time else [example_time, max(1, example_time // 2 + 1)]
        validation = check_against_eager(graph, runner, times=times)
        manifest = {
            **manifest, "model_format": model_format, "model_file": model_path.name,
            "outputs": list(graph.OUTPUTS),
            "inputs": {name: list(axes) for name, axes in graph.INPUTS.items()},
            "padding": graph.padding, "pad_id": vocab.pad_id or 0, "time": fixed_time,
            "validation": validation, "source": source or {},
            "versions": _versions(model_format),
        }
        write_sidecars(staging, manifest, vocab, label_names, tokenizer, config, extra)
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
