"""A tagger's export: emissions of word ids, char ids and lengths, every axis dynamic, equal
to PyTorch eager in both formats; decoded tags identical to the CRF's own Viterbi."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnlab.export import export_run
from rnnlab.export.graphs import TaggerGraph, validation_lengths
from rnnlab.export.torch_export import load_program
from rnnlab.export.validation import eager_outputs, onnx_runner, program_runner
from rnnlab.serving.viterbi import viterbi_decode
from rnnlab.train.tagger_eval import load_tagger_run
from tests.export.tagger_fixture import train_tiny_tagger

pytestmark = pytest.mark.slow

PARITY = 1e-5  # float32
FORMATS = ("onnx", "torch-export")
# Exported at time 7 (chars 4) and validated at time 4 (chars 3); checked here at times and
# character widths the export never saw, 1 and longer ones included.
UNSEEN = ((9, 6), (1, 1), (12, 2), (2, 9))


# A char-BiLSTM tagger exports too: eager spells only the real tokens, the graph every
# position with the padded ones zeroed; the parity test below holds the two to each other.
@pytest.fixture(scope="module", params=["cnn", "lstm"], ids=["char-cnn", "char-bilstm"])
def tagger_exports(tmp_path_factory, request):
    root = tmp_path_factory.mktemp(f"tagger-{request.param}")
    run_dir = train_tiny_tagger(root / "run", char_features=request.param)
    outs = {model_format: export_run(run_dir, root / model_format, model_format)
            for model_format in FORMATS}
    return load_tagger_run(run_dir), outs


def _runner(model_format, out):
    if model_format == "onnx":
        return onnx_runner(out / "model.onnx", tuple(TaggerGraph.INPUTS))
    return program_runner(load_program(out / "program.pt2"))


def _batch(graph: TaggerGraph, time: int, chars: int, seed: int):
    """Example inputs of mixed lengths (1 and ``time`` among them), ``chars`` wide."""
    lengths = validation_lengths(time, batch=6)
    generator = torch.Generator().manual_seed(seed)
    word_ids, char_ids, lengths_t = graph.example_inputs(lengths, time, generator)
    spelled = torch.randint(1, chars + 1, word_ids.shape, generator=generator)
    spelled[0, 0] = chars
    spelled = torch.where(torch.arange(time) < lengths_t[:, None], spelled, 0)
    char_ids = torch.randint(2, graph.num_chars, (*word_ids.shape, chars), generator=generator)
    char_ids = torch.where(torch.arange(chars) < spelled[:, :, None], char_ids, 0)
    return word_ids, char_ids, lengths_t


@pytest.mark.parametrize("model_format", FORMATS)
def test_tagger_export_matches_eager_emissions_and_tags_at_unseen_shapes(tagger_exports,
                                                                         model_format):
    run, outs = tagger_exports
    graph = TaggerGraph(run.model).eval()
    run_export = _runner(model_format, outs[model_format])
    for seed, (time, chars) in enumerate(UNSEEN):
        inputs = _batch(graph, time, chars, seed)
        want = eager_outputs(graph, inputs)[0]
        got = run_export(*(tensor.numpy() for tensor in inputs))[0]
        assert got.shape == want.shape == (6, time, len(run.vocabs.tags))
        np.testing.assert_allclose(got, want, rtol=0, atol=PARITY,
                                   err_msg=f"time {time}, chars {chars}")
        lengths = inputs[2]
        eager_tags = run.model.predict(torch.from_numpy(want), lengths).numpy()
        exported_tags = viterbi_decode(got, lengths.numpy(),
                                       json.loads((outs["onnx"] / "crf.json").read_text()))[0]
        np.testing.assert_array_equal(exported_tags, eager_tags)
    # the oracle is not trivially satisfied: tokens get different scores
    assert np.ptp(want) > 1e-3


def test_tagger_bundle_declares_three_dynamic_inputs_and_its_crf(tagger_exports):
    import onnx

    run, outs = tagger_exports
    graph = onnx.load(str(outs["onnx"] / "model.onnx")).graph
    inputs = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
              for i in graph.input}
    assert inputs == {"word_ids": ["batch", "time"], "char_ids": ["batch", "time", "chars"],
                      "lengths": ["batch"]}
    for model_format, out in outs.items():
        manifest = json.loads((out / "bundle.json").read_text())
        assert manifest["kind"] == "tagger" and manifest["decoder"] == "crf", model_format
        assert manifest["time"] is None and manifest["padding"] == "post"
        assert manifest["inputs"] == inputs and manifest["outputs"] == ["emissions"]
        assert json.loads((out / "labels.json").read_text())["labels"] == list(run.vocabs.tags)
        crf = json.loads((out / "crf.json").read_text())
        np.testing.assert_array_equal(np.float32(crf["transitions"]),
                                      run.model.crf.transitions.detach().numpy())
        assert json.loads((out / "chars.json").read_text()) == run.vocabs.chars.to_dict()
