"""The explorer page is self-contained and carries the trace exactly; the PNG heatmap."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace

import numpy as np
import pytest

from rnnlab.diagnostics.explorer_html import explorer_html, trace_text, write_explorer
from rnnlab.diagnostics.state_heatmap import heatmap_png
from rnnlab.diagnostics.states import trace_model
from tests.diagnostics.planted import QUOTE_PATTERN, QUOTED_TEXT, PlantedCharModel, encode


@pytest.fixture(scope="module")
def trace():
    traced = trace_model(PlantedCharModel(), encode(QUOTED_TEXT), tokens=tuple(QUOTED_TEXT))
    spans = tuple((i, i + 1) for i in range(len(QUOTED_TEXT)))
    return replace(traced, text=QUOTED_TEXT, spans=spans, source="planted")


def page_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>',
                      page, re.S)
    return json.loads(match.group(1))


def test_the_page_is_self_contained(trace):
    page = explorer_html(trace, pattern=QUOTE_PATTERN)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"(src|href)\s*=\s*[\"'](?!data:)", page)  # nothing to fetch
    assert "http://" not in page and "https://" not in page
    assert page.count("<script") == 2 and "<style>" in page


def test_the_page_carries_every_value_exactly(trace):
    data = page_data(explorer_html(trace))
    assert data["tokens"] == list(QUOTED_TEXT) and data["sort"] == "unit"
    kinds = data["directions"][0]["kinds"]
    assert [k["kind"] for k in kinds] == list(trace.direction(0).values)
    for kind in kinds:
        values = np.frombuffer(base64.b64decode(kind["data"]), dtype="<f4")
        expected = trace.states(kind["kind"])
        np.testing.assert_array_equal(values.reshape(expected.shape), expected)


def test_a_pattern_is_sorted_by_auroc_and_its_track_embedded(trace):
    data = page_data(explorer_html(trace, pattern=QUOTE_PATTERN))
    assert data["sort"] == "auroc" and data["track_source"] == "pattern"
    assert data["track"][:9] == [0, 0, 0, 0, 0, 0, 0, 0, 1]


def test_markup_in_tokens_cannot_end_the_script(trace):
    text = 'a </script><script>alert(1)</script> "b"'
    hostile = replace(trace, tokens=tuple(text), text=text,
                      spans=tuple((i, i + 1) for i in range(len(text))),
                      directions=tuple(replace(d, values={k: np.resize(v, (len(text), 8))
                                                          for k, v in d.values.items()})
                                       for d in trace.directions))
    page = explorer_html(hostile, title="<b>x</b>")
    assert page.count("</script>") == 2 and "<title>&lt;b&gt;x&lt;/b&gt;</title>" in page
    assert page_data(page)["text"] == text


@pytest.mark.parametrize("options, message", [
    ({"pattern": "("}, "not a valid regular expression"),
    ({"pattern": "xyz"}, "matches no token"),
    ({"pattern": "."}, "marks every token"),
    ({"track": [0, 1]}, "one value per token"),
    ({"pattern": "a", "track": [0]}, "not both"),
    ({"sort": "size"}, "sort must be"),
])
def test_bad_options_are_refused(trace, options, message):
    with pytest.raises(ValueError, match=message):
        explorer_html(trace, **options)


def test_a_trace_without_text_gets_its_tokens_joined():
    traced = trace_model(PlantedCharModel(), encode("ab"), tokens=("a", "b"))
    assert trace_text(traced) == ("a b", ((0, 1), (2, 3)))


def test_write_explorer_writes_the_page_and_no_temporary(trace, tmp_path):
    path = write_explorer(trace, tmp_path / "page.html", pattern=QUOTE_PATTERN)
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_heatmap_png_with_and_without_a_track(trace):
    track = [int(0 < i % 20 < 8) for i in range(len(QUOTED_TEXT))]
    for png in (heatmap_png(trace, track=track), heatmap_png(trace, kind="forget", max_units=3)):
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(KeyError, match="has no 'update'"):
        heatmap_png(trace, kind="update")
