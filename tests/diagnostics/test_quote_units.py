"""The quote-unit search finds a planted unit: a hand-built LSTM whose unit 3 holds the quote."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnlab.data.toys import ToyTaskConfig
from rnnlab.diagnostics.quote_units import find_quote_units, write_quote_units
from rnnlab.models.toys import ToyModel, ToyModelConfig
from rnnlab.train.toy_tasks import ToyData

HIDDEN, PLANTED, K = 6, 3, 20.0


def _text(seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    words = ["he", "said", "then", "left", "yes", "no", "way", "fine", "the", "door"]
    pieces = []
    for _ in range(40):
        narration = " ".join(rng.choice(words, size=rng.integers(2, 6)))
        speech = " ".join(rng.choice(words, size=rng.integers(1, 5)))
        pieces.append(f"{narration} “{speech}” ")
    return "".join(pieces)


def _planted_model(alphabet: str) -> ToyModel:
    """Unit 3's cell: set to +1 at “ (input gate open, forget gate shut, candidate +1), to -1
    at ”, kept (forget gate open) everywhere else; every other unit is seeded noise."""
    torch.manual_seed(0)
    model = ToyModel(ToyModelConfig("quotes", cell="lstm", hidden_size=HIDDEN,
                                    classes=len(alphabet) + 1, embedding_size=4))
    with torch.no_grad():
        embedding = model.embedding.weight  # dims 0, 1: the quote marks; 2, 3: noise
        embedding[:, :2] = 0
        embedding[alphabet.index("“") + 1, :2] = torch.tensor([1.0, 0.0])
        embedding[alphabet.index("”") + 1, :2] = torch.tensor([0.0, 1.0])
        w_ih, b_ih = model.rnn.weight_ih_l0, model.rnn.bias_ih_l0
        w_hh, b_hh = model.rnn.weight_hh_l0, model.rnn.bias_hh_l0
        gate = {name: index * HIDDEN + PLANTED for index, name in enumerate("ifgo")}
        for row in gate.values():
            w_ih[row], w_hh[row], b_ih[row], b_hh[row] = 0, 0, 0, 0
        w_ih[gate["i"], :2], b_ih[gate["i"]] = K, -K / 2
        w_ih[gate["f"], :2], b_ih[gate["f"]] = -K, K / 2
        w_ih[gate["g"], :2] = torch.tensor([K, -K])
        b_ih[gate["o"]] = K
    return model


def _data(text: str) -> ToyData:
    alphabet = "".join(sorted(set(text)))
    empty = (np.zeros((0, 1), dtype=np.int64),) * 2
    return ToyData(ToyTaskConfig("quotes"), 0.0, empty, empty, len(alphabet) + 1,
                   alphabet=alphabet, test_text=text)


def test_the_planted_unit_comes_first_with_auroc_one():
    text = _text()
    found = find_quote_units(_planted_model(_data(text).alphabet), _data(text))
    name, score = found.best()
    assert name in (f"c {PLANTED}", f"h {PLANTED}")
    assert score.auroc > 0.999
    others = [s.auroc for n, s in zip(found.names, found.scores) if n.split()[1] != "3"]
    assert max(abs(a - 0.5) for a in others) < 0.49  # noise units separate less well
    assert len(found.names) == 2 * HIDDEN  # h and c of every unit were ranked


def test_write_quote_units_leaves_the_ranking_the_picture_and_the_explorer(tmp_path):
    text = _text(1)
    data = _data(text)
    write_quote_units(_planted_model(data.alphabet), data, tmp_path)
    units = json.loads((tmp_path / "units.json").read_text(encoding="utf-8"))
    assert units["units"][0]["name"].endswith(f" {PLANTED}")
    assert units["units"][0]["auroc"] == pytest.approx(1.0, abs=1e-3)
    assert (tmp_path / "units.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<!DOCTYPE html>" in (tmp_path / "states.html").read_text(encoding="utf-8")


def test_the_explorer_page_is_cut_to_its_byte_budget(tmp_path, monkeypatch):
    """Every value of every unit at every character goes into the page (~5.3 bytes each):
    a bigger model gets fewer characters, never fewer than EXPLORER_MIN_CHARS."""
    from rnnlab.diagnostics import quote_units
    from tests.diagnostics.test_explorer_html import page_data

    text = _text(1)
    data = _data(text)
    per_char = 6 * HIDDEN  # h, c and 4 gates of one layer
    shown = {}
    for budget_chars in (400, 100):
        monkeypatch.setattr(quote_units, "EXPLORER_BYTES", (budget_chars + 0.5) * 5.3 * per_char)
        write_quote_units(_planted_model(data.alphabet), data, tmp_path)
        page = (tmp_path / "states.html").read_text(encoding="utf-8")
        shown[budget_chars] = len(page_data(page)["tokens"])
    assert shown == {400: 400, 100: quote_units.EXPLORER_MIN_CHARS}


def test_a_text_without_quotations_is_refused():
    text = "no quotes here at all, only narration " * 5 + "“”"
    data = _data(text)
    with pytest.raises(ValueError, match="has no quotation"):
        find_quote_units(_planted_model(data.alphabet), data, text=text[:50])


def _stacked_planted_model(alphabet: str) -> ToyModel:
    """Two layers; the quote unit is layer 1's unit 3. Layer 0's units 0 and 1 only pass the
    marks up (h ≈ tanh(1) at “ resp. ”, 0 elsewhere: input gate open, forget gate shut);
    layer 1's unit 3 is the single-layer model's, reading them scaled back to 1."""
    torch.manual_seed(0)
    model = ToyModel(ToyModelConfig("quotes", cell="lstm", hidden_size=HIDDEN, layers=2,
                                    classes=len(alphabet) + 1, embedding_size=4))
    rnn = model.rnn
    with torch.no_grad():
        embedding = model.embedding.weight
        embedding[:, :2] = 0
        embedding[alphabet.index("“") + 1, :2] = torch.tensor([1.0, 0.0])
        embedding[alphabet.index("”") + 1, :2] = torch.tensor([0.0, 1.0])
        for unit in (0, 1):  # layer 0: detectors of the two marks
            rows = {name: index * HIDDEN + unit for index, name in enumerate("ifgo")}
            for row in rows.values():
                rnn.weight_ih_l0[row], rnn.weight_hh_l0[row] = 0, 0
                rnn.bias_ih_l0[row], rnn.bias_hh_l0[row] = 0, 0
            rnn.bias_ih_l0[rows["i"]], rnn.bias_ih_l0[rows["f"]] = K, -K
            rnn.weight_ih_l0[rows["g"], unit] = K
            rnn.bias_ih_l0[rows["o"]] = K
        lifted = 1 / float(np.tanh(np.tanh(K)))  # layer 0's h at a mark, back to 1
        gate = {name: index * HIDDEN + PLANTED for index, name in enumerate("ifgo")}
        for row in gate.values():
            rnn.weight_ih_l1[row], rnn.weight_hh_l1[row] = 0, 0
            rnn.bias_ih_l1[row], rnn.bias_hh_l1[row] = 0, 0
        rnn.weight_ih_l1[gate["i"], :2], rnn.bias_ih_l1[gate["i"]] = K * lifted, -K / 2
        rnn.weight_ih_l1[gate["f"], :2], rnn.bias_ih_l1[gate["f"]] = -K * lifted, K / 2
        rnn.weight_ih_l1[gate["g"], :2] = torch.tensor([K, -K]) * lifted
        rnn.bias_ih_l1[gate["o"]] = K
    return model


def test_in_a_stacked_model_every_layer_is_searched_and_the_unit_named_with_its_layer():
    text = _text(2)
    data = _data(text)
    found = find_quote_units(_stacked_planted_model(data.alphabet), data)
    name, score = found.best()
    assert name in (f"L1 c {PLANTED}", f"L1 h {PLANTED}")
    assert score.auroc > 0.999
    assert len(found.names) == 2 * 2 * HIDDEN  # h and c of every unit of both layers
    assert {n.split()[0] for n in found.names} == {"L0", "L1"}
    # values() reads the named layer's column, not layer 0's
    kind = name.split()[1]
    assert np.array_equal(found.values(name), found.trace.states(kind, 1)[:, PLANTED])
    assert not np.array_equal(found.values(name), found.trace.states(kind, 0)[:, PLANTED])


def test_the_linear_probe_reaches_the_bayes_auroc_of_a_signal_spread_over_units():
    """20 units, each 0.3·inside + N(0, 1): one unit separates at Φ(0.3/√2) ≈ 0.58; the best
    linear combination at Φ(Δ/√2) with Mahalanobis distance Δ = 0.3·√20 (≈ 0.829)."""
    from scipy.stats import norm

    from rnnlab.diagnostics.quote_units import linear_probe
    from rnnlab.diagnostics.unit_search import rank_units

    rng = np.random.default_rng(0)

    def sample(n):
        inside = rng.random(n) < 0.3
        return 0.3 * inside[:, None] + rng.standard_normal((n, 20)), inside.astype(np.int8)

    (fit, fit_track), (states, track) = sample(20_000), sample(20_000)
    probe = linear_probe(fit, fit_track, states, track)
    assert probe.auroc == pytest.approx(norm.cdf(0.3 * np.sqrt(20) / np.sqrt(2)), abs=0.01)
    assert (probe.features, probe.fit_chars) == (20, 20_000)
    best_unit = rank_units(states, track)[0].auroc
    assert best_unit == pytest.approx(norm.cdf(0.3 / np.sqrt(2)), abs=0.02)
    with pytest.raises(ValueError, match="has both classes"):
        linear_probe(fit, np.zeros(len(fit)), states, track)


def test_write_quote_units_records_the_probe_fitted_on_the_valid_text(tmp_path):
    from dataclasses import replace as replaced

    text, fit_text = _text(3), _text(4)
    data = _data(text + fit_text)  # one alphabet for both texts
    data = replaced(data, test_text=text, valid_text=fit_text)
    found = write_quote_units(_planted_model(data.alphabet), data, tmp_path)
    units = json.loads((tmp_path / "units.json").read_text(encoding="utf-8"))
    assert units["probe"]["auroc"] == pytest.approx(found.probe.auroc) and found.probe.auroc > 0.99
    assert units["probe"]["features"] == 2 * HIDDEN
    assert units["probe"]["fit_chars"] == len(fit_text)
    # the unit chosen on the valid text, scored on the test text: the search run on each
    # text alone gives both numbers
    on_valid = find_quote_units(_planted_model(data.alphabet), data, text=fit_text)
    assert found.selected.name == on_valid.names[0]
    assert found.selected.valid_auroc == on_valid.scores[0].auroc
    assert found.selected.test_auroc == dict(zip(found.names, found.scores))[
        found.selected.name].auroc > 0.999
    assert units["selected_on_valid"] == {"name": found.selected.name,
                                          "valid_auroc": found.selected.valid_auroc,
                                          "test_auroc": found.selected.test_auroc}
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind
    alone = tmp_path / "no-valid-text"
    alone.mkdir()
    write_quote_units(_planted_model(data.alphabet), _data(text), alone)  # nothing to fit on
    alone_units = json.loads((alone / "units.json").read_text(encoding="utf-8"))
    assert "probe" not in alone_units and "selected_on_valid" not in alone_units


def _text_with_quotes_early_or_late(seed: int, late: bool) -> str:
    """80 stretches of narration; a quotation follows 9 in 10 of them in the ``late`` (or
    early) half of the text, 1 in 10 in the other half."""
    rng = np.random.default_rng(seed)
    words = ["he", "said", "then", "left", "yes", "no", "way", "fine", "the", "door"]
    pieces = []
    for index in range(80):
        pieces.append(" ".join(rng.choice(words, size=rng.integers(2, 6))) + " ")
        if rng.random() < (0.9 if (index >= 40) == late else 0.1):
            pieces.append("“" + " ".join(rng.choice(words, size=rng.integers(1, 5))) + "” ")
    return "".join(pieces)


def test_a_counting_cell_does_not_throw_the_probe_off_another_text():
    """Unit 0 counts characters (every gate open, candidate +1: c = t). On a valid text whose
    quotations come late the count correlates with the track; a probe that read raw c would
    weight it and misrank a test text whose quotations come early (it scored 0.51 here).
    On tanh(c) the count is a constant 1 and the probe matches the planted unit."""
    from dataclasses import replace as replaced

    fit_text = _text_with_quotes_early_or_late(0, late=True)
    text = _text_with_quotes_early_or_late(1, late=False)
    data = replaced(_data(fit_text + text), test_text=text, valid_text=fit_text)
    model = _planted_model(data.alphabet)
    with torch.no_grad():
        rnn = model.rnn
        for gate in range(4):
            row = gate * HIDDEN  # unit 0 of gates i, f, g, o
            rnn.weight_ih_l0[row], rnn.weight_hh_l0[row] = 0, 0
            rnn.bias_ih_l0[row], rnn.bias_hh_l0[row] = K, 0
    found = find_quote_units(model, data)
    assert found.values("c 0")[-1] == pytest.approx(len(text), rel=1e-3)  # it counts
    assert found.best()[1].auroc > 0.999
    assert found.probe.auroc > 0.99
