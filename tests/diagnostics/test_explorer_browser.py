"""The explorer page in a real headless browser: Debian's Chromium, driven by Playwright.

The page must load with no console error and no network request, show one row per unit,
show the value under the mouse, and reorder the units when the sort control or the pattern
changes: sorted by AUROC with the quote pattern, the planted unit 3 comes first, with the
AUROC that ``rank_units`` computes in Python.

Needs /usr/bin/chromium (``scripts/install_browser.sh``, run by ``make test``) and the
``browser`` extra (Playwright; its own browser downloads are never used). Without them the
tests skip, unless the environment variable CI is set: then they fail. Set
RNNLAB_EXPLORER_SCREENSHOT=FILE.png to keep a screenshot of the sorted page.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from rnnlab.diagnostics.explorer_html import write_explorer
from rnnlab.diagnostics.states import trace_model
from rnnlab.diagnostics.unit_search import rank_units, regex_track
from tests.diagnostics.planted import (
    PLANTED_UNIT,
    QUOTE_PATTERN,
    QUOTED_TEXT,
    PlantedCharModel,
    encode,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _missing(what: str) -> None:
    message = f"{what}; run scripts/install_browser.sh (make test does) to install Chromium"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so the browser test may not skip: {message}")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    if not CHROMIUM.is_file():
        _missing(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        _missing("Playwright is not installed (pip install 'rnnlab[browser]')")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user-data-dir
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1300, "height": 800})
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def trace():
    traced = trace_model(PlantedCharModel(), encode(QUOTED_TEXT), tokens=tuple(QUOTED_TEXT))
    return replace(traced, text=QUOTED_TEXT,
                   spans=tuple((i, i + 1) for i in range(len(QUOTED_TEXT))), source="planted")


@pytest.fixture
def page(browser_context, trace, tmp_path):
    path = write_explorer(trace, tmp_path / "explorer.html", pattern=QUOTE_PATTERN, sort="unit",
                          title="planted quote unit")
    page = browser_context.new_page()
    problems, requests = [], []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    yield page
    page.close()
    assert problems == [], f"console errors: {problems}"
    assert all(url.startswith(("file:", "data:")) for url in requests), requests


def unit_order(page) -> list[int]:
    return [int(unit) for unit in page.eval_on_selector_all(
        ".unit-label", "labels => labels.map(label => label.dataset.unit)")]


def test_the_page_loads_and_shows_every_unit_in_index_order(page, trace):
    assert page.title() == "planted quote unit"
    assert unit_order(page) == list(range(8))
    assert page.locator("#token-header span").count() == len(QUOTED_TEXT)
    assert "marks 36 of 107 tokens" in page.locator("#pattern-status").inner_text()
    assert page.locator("#heatmap").bounding_box()["height"] == 8 * 14


def test_sorting_by_auroc_puts_the_planted_unit_first(page, trace):
    page.select_option("#sort", "auroc")
    order = unit_order(page)
    assert order[0] == PLANTED_UNIT and order != list(range(8))
    track = regex_track(QUOTED_TEXT, QUOTE_PATTERN, trace.spans)
    python_order = [score.unit for score in rank_units(trace.states("h"), track)]
    assert order == python_order  # the page ranks as rank_units does
    first = page.locator(".unit-label").first
    assert float(first.get_attribute("data-auroc")) == pytest.approx(1.0)
    assert "AUROC 1.000" in first.inner_text()
    screenshot = os.environ.get("RNNLAB_EXPLORER_SCREENSHOT")
    if screenshot:
        page.screenshot(path=screenshot, full_page=True)


def test_sorting_by_correlation_and_by_cell_state_agree_on_the_planted_unit(page):
    page.select_option("#kind", label="c (cell state)")
    page.select_option("#sort", "pearson")
    assert unit_order(page)[0] == PLANTED_UNIT
    page.select_option("#sort", "unit")
    assert unit_order(page) == list(range(8))


def test_typing_a_pattern_reranks_and_a_bad_one_is_reported(page):
    page.select_option("#sort", "auroc")
    page.fill("#pattern", "zzz")
    assert "never matches" in page.locator("#pattern-status").inner_text()
    assert unit_order(page) == list(range(8))  # nothing to rank by
    page.fill("#pattern", "(")
    assert "not a valid regular expression" in page.locator("#pattern-status").inner_text()
    page.fill("#pattern", '"[^"]*"')
    assert unit_order(page)[0] == PLANTED_UNIT
    page.fill("#track-input", "0 1")
    assert "needs one per token" in page.locator("#pattern-status").inner_text()


def test_hovering_a_cell_shows_its_value(page, trace):
    page.select_option("#sort", "unit")
    box = page.locator("#heatmap").bounding_box()
    header = page.locator("#token-header span").nth(10).bounding_box()
    page.mouse.move(header["x"] + header["width"] / 2, box["y"] + PLANTED_UNIT * 14 + 7)
    tooltip = page.locator("#tooltip")
    assert tooltip.is_visible()
    assert tooltip.get_attribute("data-unit") == str(PLANTED_UNIT)
    assert tooltip.get_attribute("data-token") == "10"
    value = trace.states("h")[10, PLANTED_UNIT]
    assert f"h = {value:.4f}" in tooltip.inner_text()


def test_a_long_text_is_shown_in_windows_of_tokens(browser_context, tmp_path):
    text = QUOTED_TEXT * 30  # 3,210 characters: wider than one canvas may be
    traced = trace_model(PlantedCharModel(), encode(text), tokens=tuple(text))
    long_trace = replace(traced, text=text, spans=tuple((i, i + 1) for i in range(len(text))))
    path = write_explorer(long_trace, tmp_path / "long.html", pattern=QUOTE_PATTERN)
    page = browser_context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    assert unit_order(page)[0] == PLANTED_UNIT  # sorted on load: a pattern was given
    shown = page.locator("#token-header span").count()
    assert 0 < shown < len(text) and page.locator("#next-window").is_enabled()
    page.click("#next-window")
    assert page.locator("#window-info").inner_text().startswith(f"tokens {shown}–")
    page.click("#prev-window")
    assert page.locator("#window-info").inner_text().startswith("tokens 0–")
    page.close()
    assert errors == []
