"""The while_loop RNN ops of an export neither depend on nor leak into the rest of the process.

Regression for the order-dependent failure of ``test_parity.py[gru-2x2-pre]`` (run after
tests/core/test_dropin.py): a plain ``torch.export.export`` of a GRU left
``aten.gru.input._dispatch_cache`` pointing at torch's loop-over-time decomposition, and the
next rnnlab export, which swaps in the while_loop kernel without clearing that cache, fixed
time to its example's length.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnlab
from rnnlab.data import EncodingConfig, Vocab
from rnnlab.export.graphs import ClassifierGraph, padded_batch
from rnnlab.export.run import export_classifier
from rnnlab.export.torch_export import export_program, load_program
from rnnlab.models import ClassifierConfig, SequenceClassifier

VOCAB = Vocab(("<pad>", "<unk>", *(f"w{i}" for i in range(9))))


def _while_loops(program: torch.export.ExportedProgram) -> int:
    return sum(node.target is torch.ops.higher_order.while_loop
               for node in program.graph.nodes)


def _plain_export(cell: str) -> torch.export.ExportedProgram:
    layer = {"gru": rnnlab.GRU, "lstm": rnnlab.LSTM}[cell](5, 6, batch_first=True).eval()
    return torch.export.export(layer, (torch.randn(3, 4, 5),),
                               {"lengths": torch.tensor([4, 2, 1])}, strict=False)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_a_plain_torch_export_before_does_not_fix_the_exports_time(tmp_path, cell):
    assert _while_loops(_plain_export(cell)) == 0  # the RNN op traced the usual way first
    config = ClassifierConfig(vocab_size=len(VOCAB), embedding_size=5, hidden_size=6,
                              dense_size=4, cell=cell, masked=False, padding="pre")
    model = SequenceClassifier(config, seed=2).eval()
    out = export_classifier(model, VOCAB, ("neg", "pos"), EncodingConfig(maxlen=8, padding="pre"),
                            tmp_path / "export", "torch-export")  # validated at times 8 and 5
    lengths = torch.tensor([3, 1, 3])
    ids = padded_batch(lengths.tolist(), 3, len(VOCAB), "pre", torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = load_program(out / "program.pt2")(ids, lengths)[0]
        want = ClassifierGraph(model)(ids, lengths)[0]
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-5)


# torch's own run_decompositions warns so (rnnlab's exports silence it: export/tracing.py)
@pytest.mark.filterwarnings(r"ignore:`isinstance\(treespec, LeafSpec\)`:FutureWarning")
def test_an_export_leaves_plain_torch_export_as_it_was():
    """After rnnlab's export, the user's own ``torch.export`` decomposes the RNN op the usual
    way again (torch's loop over time), not with rnnlab's while_loop."""
    graph = ClassifierGraph(SequenceClassifier(ClassifierConfig(
        vocab_size=len(VOCAB), embedding_size=5, hidden_size=6, dense_size=4, cell="gru",
        masked=False)))
    inputs = (torch.randint(2, len(VOCAB), (3, 7)), torch.tensor([7, 1, 4]))
    export_program(graph, inputs, True)
    assert _while_loops(_plain_export("gru").run_decompositions()) == 0
