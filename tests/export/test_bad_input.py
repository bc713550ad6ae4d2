"""Exports that cannot be made fail with one clear message and leave nothing behind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.data import EncodingConfig, Vocab
from rnnlab.export import ValidationError, export_classifier, export_language_model, export_run
from rnnlab.export import torch_export as torch_export_module
from rnnlab.export.bundle import MODEL_FILES, read_bundle, write_sidecars
from rnnlab.export.graphs import ClassifierGraph
from rnnlab.models import ClassifierConfig, SequenceClassifier
from rnnlab.models.language_model import LanguageModel, LanguageModelConfig
from rnnlab.train.checkpoint import CheckpointError

VOCAB = Vocab(("<pad>", "<unk>", "a", "b", "c", "d", "e"))


def _classifier(cell: str = "gru", masked: bool = True) -> SequenceClassifier:
    config = ClassifierConfig(vocab_size=len(VOCAB), embedding_size=5, hidden_size=6,
                              dense_size=4, cell=cell, masked=masked)
    return SequenceClassifier(config).eval()


def _nothing_written(parent, out) -> None:
    assert not out.exists()
    assert [p.name for p in parent.iterdir() if p.name.startswith(".")] == []


def test_run_without_checkpoint_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match=r"holds no run: no checkpoint\.pt"):
        export_run(tmp_path / "run", tmp_path / "out")
    _nothing_written(tmp_path, tmp_path / "out")


def test_missing_run_directory_names_the_argument(tmp_path):
    with pytest.raises(FileNotFoundError, match="run_dir=.*does not exist"):
        export_run(tmp_path / "nowhere", tmp_path / "out")


@pytest.mark.parametrize("cell", ["peephole", "layernorm", "cifg"])
def test_onnx_refuses_cells_without_an_onnx_operator_and_says_why(tmp_path, cell):
    with pytest.raises(ValueError, match=f"--format onnx cannot export cell '{cell}': ONNX "
                                         "has no operator for it"):
        export_classifier(_classifier(cell), VOCAB, ("neg", "pos"), EncodingConfig(maxlen=8),
                          tmp_path / "out", "onnx")
    _nothing_written(tmp_path, tmp_path / "out")


def test_language_model_with_a_loop_cell_cannot_fix_its_time(tmp_path):
    model = LanguageModel(LanguageModelConfig(vocab_size=len(VOCAB), hidden_size=6,
                                              cell="peephole"))
    with pytest.raises(ValueError, match="cannot export cell 'peephole' for a language "
                                         "model: it runs as a Python loop over time"):
        export_language_model(model, VOCAB, tmp_path / "out", "torch-export")
    _nothing_written(tmp_path, tmp_path / "out")


def test_unknown_format_and_used_out_directory_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"--format must be one of \['onnx', 'torch-export'\]"):
        export_classifier(_classifier(), VOCAB, ("n", "p"), EncodingConfig(maxlen=8),
                          tmp_path / "out", "tflite")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="already exists and is not empty"):
        export_classifier(_classifier(), VOCAB, ("n", "p"), EncodingConfig(maxlen=8),
                          tmp_path / "used", "onnx")
    assert (tmp_path / "used" / "keep.txt").read_text() == "mine"


class _Shifted(torch.nn.Module):
    """A wrong export: the real graph's outputs plus 0.01."""

    def __init__(self, graph: torch.nn.Module) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, ids, lengths):
        return tuple(output + 0.01 for output in self.graph(ids, lengths))


def test_an_export_that_fails_validation_leaves_no_directory(tmp_path, monkeypatch):
    """Written, then validated, then renamed: a model file whose outputs differ from PyTorch
    never becomes an export directory."""
    model = _classifier()
    monkeypatch.setattr(torch_export_module, "save_program",
                        lambda graph, inputs, dynamic_time, path: path.write_bytes(b"x"))
    monkeypatch.setattr(torch_export_module, "load_program",
                        lambda path: _Shifted(ClassifierGraph(model)))
    with pytest.raises(ValidationError, match=r"differs from PyTorch by up to 0\.01"):
        export_classifier(model, VOCAB, ("n", "p"), EncodingConfig(maxlen=8),
                          tmp_path / "out", "torch-export")
    _nothing_written(tmp_path, tmp_path / "out")


def _fake_bundle(directory, model_format="onnx"):
    directory.mkdir()
    (directory / MODEL_FILES[model_format]).write_bytes(b"")
    manifest = {"kind": "classifier", "model_format": model_format,
                "model_file": MODEL_FILES[model_format], "padding": "pre", "time": None}
    write_sidecars(directory, manifest, VOCAB, ("n", "p"), {}, {})
    return directory


def test_model_directory_without_its_vocabulary_sidecar_names_the_file(tmp_path):
    model_dir = _fake_bundle(tmp_path / "export")
    assert read_bundle(model_dir).vocab.tokens == VOCAB.tokens
    (model_dir / "vocab.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"has no vocab\.json \(the vocabulary\); the "
                                                "export is incomplete: export the run again"):
        read_bundle(model_dir)


def test_predictor_refuses_a_torch_export_directory(tmp_path):
    from rnnlab.serving import Predictor

    model_dir = _fake_bundle(tmp_path / "export", "torch-export")
    with pytest.raises(ValueError, match="holds a torch-export export; the predictor runs "
                                         "ONNX"):
        Predictor(model_dir)


def test_validation_lengths_include_one_and_the_longest():
    from rnnlab.export.graphs import validation_lengths

    assert validation_lengths(9) == [9, 1, 5, 3, 7]
    assert validation_lengths(1) == [1, 1, 1, 1, 1]
    assert all(1 <= n <= 100 for n in validation_lengths(100))
    assert np.isin([1, 100], validation_lengths(100)).all()


def _tagger_vocabs_and_model(cell: str, char_features: str = "cnn"):
    from rnnlab.data.vocab import VocabConfig
    from rnnlab.models.tagger import Tagger, TaggerConfig
    from rnnlab.train.tagger_data import TaggerVocabs

    vocabs = TaggerVocabs(VOCAB, Vocab.fit([list("abcde")], VocabConfig()), ("N", "V", "."))
    config = TaggerConfig(vocab_size=len(VOCAB), num_chars=len(vocabs.chars), num_tags=3,
                          word_embedding_size=5, char_embedding_size=4, char_size=3,
                          hidden_size=6, cell=cell, crf=True, char_features=char_features)
    return vocabs, Tagger(config).eval()


def test_tagger_with_a_loop_cell_is_refused_in_both_formats(tmp_path):
    from rnnlab.export import export_tagger

    vocabs, model = _tagger_vocabs_and_model("peephole")
    with pytest.raises(ValueError, match="--format onnx cannot export cell 'peephole'"):
        export_tagger(model, vocabs, tmp_path / "out", "onnx")
    with pytest.raises(ValueError, match="cannot export cell 'peephole' for a tagger: it runs "
                                         "as a Python loop over time"):
        export_tagger(model, vocabs, tmp_path / "out", "torch-export")
    _nothing_written(tmp_path, tmp_path / "out")


def test_tagger_run_refuses_pre_padding_and_names_the_fix(tmp_path):
    from tests.export.tagger_fixture import train_tiny_tagger

    run_dir = train_tiny_tagger(tmp_path / "run")
    with pytest.raises(ValueError, match="--padding 'pre': a tagger takes post padding .*omit "
                                         "--padding"):
        export_run(run_dir, tmp_path / "out", padding="pre")
    _nothing_written(tmp_path, tmp_path / "out")
