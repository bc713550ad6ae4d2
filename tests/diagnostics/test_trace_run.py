"""trace_run on trained run directories: classifier and language-model runs, every arrangement
the classifier has (masked or not, stacked, bidirectional, GRU), checked against the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.diagnostics.states import trace_run
from rnnlab.diagnostics.unit_search import rank_units, regex_track
from rnnlab.train import load_run
from rnnlab.train.checkpoint import CheckpointError
from tests.diagnostics.planted import PLANTED_UNIT, QUOTE_PATTERN, QUOTED_TEXT
from tests.diagnostics.runs import classifier_run, planted_lm_run, word_lm_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {
        "planted": planted_lm_run(root / "planted"),
        "word_lm": word_lm_run(root / "word_lm"),
        "bigru_masked": classifier_run(root / "bigru", name="MS_RST_biGRU", masked=True),
        "lstm": classifier_run(root / "lstm"),
    }


def test_a_planted_lm_run_shows_its_quote_unit(runs):
    trace = trace_run(runs["planted"], QUOTED_TEXT)
    assert trace.text == QUOTED_TEXT and len(trace.tokens) == len(QUOTED_TEXT)
    track = regex_track(trace.text, QUOTE_PATTERN, trace.spans)
    best = rank_units(trace.states("h"), track)[0]
    assert best.unit == PLANTED_UNIT and best.auroc == 1.0
    assert "language model" in trace.source


def test_a_classifier_run_is_traced_on_the_text_as_written(runs):
    run = load_run(runs["bigru_masked"])
    text = "The film was GREAT, the plot awful"
    trace = trace_run(run, text)
    assert trace.names == ("recurrent layer 0 forward", "recurrent layer 0 backward")
    assert list(trace.direction(0).values) == ["h", "update", "reset", "new"]
    assert trace.tokens[3] == "GREAT" and trace.known[3] and not trace.known[4]  # ","
    # The mean of the traced h (fwd ⊕ bwd) is the classifier's pooled summary (RST = mean).
    ids = torch.tensor([trace.token_ids])
    with torch.no_grad():
        pooled = run.model.features(ids, torch.tensor([ids.shape[1]]))[0].numpy()
    states = np.concatenate([trace.states("h", 0), trace.states("h", 1)], axis=1)
    np.testing.assert_allclose(states.mean(axis=0), pooled, atol=1e-6)


def test_a_stacked_lm_run_traces_every_layer(runs):
    trace = trace_run(runs["word_lm"], 'The cat said "the cat sat."')
    assert trace.names == ("rnn layer 0 forward", "rnn layer 1 forward")
    assert trace.tokens[3] == '"' and trace.known[3]  # read as Brown's ``


def test_bad_runs_and_texts_are_named(runs, tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint.pt"):
        trace_run(tmp_path, "the film")
    with pytest.raises(ValueError, match="--file: none of its"):
        trace_run(runs["lstm"], "zebra quagga", argument="--file")
