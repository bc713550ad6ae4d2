"""The leak audit on rnnlab's own layers: padding-aware directions pass their contracts, and
a Keras-style go_backwards output used without flipping back is caught."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnlab
from rnnlab.diagnostics import audit_leaks

VOCAB, EMBED, HIDDEN, BATCH, TIME = 11, 5, 6, 3, 7


class DirectionalLM(nn.Module):
    """Per-position logits from one rnnlab layer; ``view`` picks which outputs to expose."""

    def __init__(self, view: str, cell: str = "lstm", num_layers: int = 1):
        super().__init__()
        self.view = view
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.rnn = rnnlab.LSTM(EMBED, HIDDEN, num_layers=num_layers, batch_first=True, cell=cell,
                               bidirectional=view in ("both", "forward", "backward"),
                               go_backwards=view.startswith("go_backwards"))
        self.decoder = nn.Linear(2 * HIDDEN if view == "both" else HIDDEN, VOCAB)

    def forward(self, ids, lengths=None):
        out = self.rnn(self.embedding(ids), lengths=lengths)
        features = {
            "both": out.output,
            "forward": out.output[..., :HIDDEN] if self.view == "forward" else None,
            "backward": out.backward_output if self.view == "backward" else None,
            "go_backwards_unflipped": out.output,
            "go_backwards_flipped": out.backward_output,
        }[self.view]
        return self.decoder(features)


def _ids(seed=0):
    return torch.randint(0, VOCAB, (BATCH, TIME), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("cell", ["lstm", "peephole", "layernorm"])
def test_forward_half_of_bidirectional_layer_is_causal(cell):
    torch.manual_seed(0)
    report = audit_leaks(DirectionalLM("forward", cell), _ids(), "forward", vocab_size=VOCAB)
    assert report.passed, report.summary()


def test_backward_half_with_lengths_sees_only_later_real_tokens():
    torch.manual_seed(0)
    report = audit_leaks(DirectionalLM("backward"), _ids(), "backward", vocab_size=VOCAB,
                         lengths=[7, 4, 2])
    assert report.passed, report.summary()


def test_forward_half_of_a_two_layer_bidirectional_stack_is_not_causal():
    """Layer 2's forward direction reads layer 1's backward outputs: it sees the future."""
    torch.manual_seed(0)
    report = audit_leaks(DirectionalLM("forward", num_layers=2), _ids(), "forward",
                         vocab_size=VOCAB)
    assert not report.passed


def test_bidirectional_output_used_for_next_word_prediction_leaks():
    torch.manual_seed(0)
    report = audit_leaks(DirectionalLM("both"), _ids(), "forward", vocab_size=VOCAB)
    assert not report.passed
    # It sees every later token: (t, t+1) is among the violations for every t.
    flagged = {(v.out_pos, v.in_pos) for v in report.violations}
    assert {(t, t + 1) for t in range(TIME - 1)} <= flagged


def test_go_backwards_output_in_processing_order_is_caught_and_flipping_fixes_it():
    torch.manual_seed(0)
    leaky = audit_leaks(DirectionalLM("go_backwards_unflipped", num_layers=2), _ids(), "backward",
                        vocab_size=VOCAB)
    assert not leaky.passed
    torch.manual_seed(0)
    fixed = audit_leaks(DirectionalLM("go_backwards_flipped", num_layers=2), _ids(), "backward",
                        vocab_size=VOCAB)
    assert fixed.passed, fixed.summary()
