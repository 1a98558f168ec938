"""The map without a tile server (Debian chromium driven by Playwright): the départements'
outline is drawn under the structures, coloured by type with a legend; the server's clusters
of the view, opened by a click; the filters (type, région, département, opérateur — the last
by autocomplete) refilter from the server; a popup gives the key figures and the link to the
fiche; the list under the map holds the view's structures; the same with tiles configured.
Screenshots go to build/screenshots/."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import screenshot

OUTLINE = ".leaflet-bh-departements-pane path.bh-departement"


@pytest.fixture()
def page(open_page):
    return open_page("centrale")


def _markers(page) -> int:
    return int(page.get_attribute("#bh-map", "data-markers"))


def _until(page, expression: str, timeout_ms: int = 15000):
    """Poll ``expression`` from Python (wait_for_function's polling evaluates strings inside
    the page, which the Content-Security-Policy forbids)."""
    for _ in range(timeout_ms // 100):
        value = page.evaluate(expression)
        if value:
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {expression}")


def _wait_markers(page, before: int | None = None) -> int:
    condition = "document.getElementById('bh-map').hasAttribute('data-markers')"
    if before is not None:
        condition = f"Number(document.getElementById('bh-map').dataset.markers) !== {before}"
    _until(page, condition)
    return _markers(page)


def _server_count(page, query: str) -> int:
    """How many structures the filters hold (the map's count, asked as the page does)."""
    answer = page.request.get(f"/carte/clusters.json?zoom=5&bbox=-180,-90,180,90&fit=1&{query}").json()
    assert answer["total"] == len(page.request.get(f"/carte/structures.json?{query}").json()["structures"])
    return answer["total"]


def _single_markers(page) -> int:
    """Open clusters (a click zooms on one) until single structures are drawn."""
    for _ in range(8):
        if page.evaluate("window.bhMap.markers.length"):
            break
        before = page.evaluate("document.getElementById('bh-map').dataset.inView + '/' + window.bhMap.map.getZoom()")
        _until(page, "window.bhMap.clusters.length > 0")
        page.evaluate("window.bhMap.clusters[0].fire('click')")
        _until(page, "document.getElementById('bh-map').dataset.inView + '/' + window.bhMap.map.getZoom()"
                     f" !== '{before}'")
        page.wait_for_timeout(300)
    _until(page, "!document.getElementById('bh-map').hasAttribute('aria-busy')")  # the view is drawn
    return page.evaluate("window.bhMap.markers.length")


def test_the_map_draws_the_departements_under_coloured_markers_without_tiles(page):
    page.goto("/carte/")
    total = _wait_markers(page)
    _until(page, f"document.querySelectorAll('{OUTLINE}').length >= 100")
    assert page.locator(".leaflet-tile").count() == 0
    assert total == _server_count(page, "") > 900
    # the server's clusters of the view, not a marker per structure
    _until(page, "document.querySelectorAll('.marker-cluster').length > 0")
    drawn = page.evaluate("window.bhMap.clusters.length + window.bhMap.markers.length")
    assert 0 < drawn < total / 2
    counts = page.locator(".marker-cluster span").all_inner_texts()
    assert counts and all(c.replace("\u202f", "").isdigit() for c in counts)
    # the outline is a layer under the markers' (overlay) pane
    z = page.evaluate("[getComputedStyle(document.querySelector('.leaflet-bh-departements-pane')).zIndex,"
                      " getComputedStyle(document.querySelector('.leaflet-overlay-pane')).zIndex]")
    assert int(z[0]) < int(z[1])
    legend = page.locator(".bh-map-legend li")
    assert legend.all_inner_texts() == ["CADA", "HUDA", "CPH", "CAES", "PRAHDA"]
    screenshot(page, "carte-nationale-sans-tuiles")
    assert page.problems == []


def test_filters_reduce_the_markers_and_a_popup_gives_the_key_figures(page):
    page.goto("/carte/")
    total = _wait_markers(page)
    page.select_option("#map-type", "CPH")
    cph = _wait_markers(page, total)
    assert 0 < cph < total and cph == _server_count(page, "type=CPH")
    assert "type=CPH" in page.url
    assert _single_markers(page) > 0
    colours = page.evaluate("Array.from(new Set(window.bhMap.markers.map(m => m.options.fillColor)))")
    assert colours == ["#18753C"]

    normandie = page.locator("#map-region option", has_text="Normandie").get_attribute("value")
    page.select_option("#map-region", normandie)
    both = _wait_markers(page, cph)
    assert 0 < both < cph and both == _server_count(page, f"type=CPH&region={normandie}")
    _until(page, f"document.getElementById('bh-map').dataset.inView === '{both}'")
    page.locator("#bh-map-list summary").click()  # the list of the view, asked for when opened
    rows = page.locator("#bh-map-rows tr")
    _until(page, f"document.querySelectorAll('#bh-map-rows tr').length === {both}")
    assert rows.count() == both and "/structureview/show/" in rows.first.locator("a").get_attribute("href")
    screenshot(page, "carte-filtre-cph-normandie")

    page.select_option("#map-type", "")
    page.select_option("#map-region", "")
    # the opérateur by autocomplete: type part of a name, pick the first proposal
    page.locator("#map-operateur-q").fill("a")
    option = page.locator("#map-operateur-options [role=option]").first
    option.wait_for()
    assert page.get_attribute("#map-operateur-q", "aria-expanded") == "true"
    name = option.inner_text()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.input_value("#map-operateur-q") == name
    operateur = page.input_value("#map-operateur")
    assert operateur
    _until(page, f"window.location.search.includes('operateur={operateur}')")
    expected = _server_count(page, f"operateur={operateur}")
    _until(page, f"Number(document.getElementById('bh-map').dataset.markers) === {expected}")
    mine = _markers(page)
    assert 0 < mine < total

    assert _single_markers(page) > 0
    popup = page.locator(".leaflet-popup-content")
    for _ in range(5):  # a view still being redrawn replaces the markers (and closes their popup)
        _until(page, "!document.getElementById('bh-map').hasAttribute('aria-busy')")
        page.evaluate("window.bhMap.markers.length && window.bhMap.markers[0].openPopup()")
        page.wait_for_timeout(500)
        if popup.count() and popup.first.is_visible():
            break
    popup.wait_for()
    text = popup.inner_text()
    for label in ("Type", "Opérateur", "Commune", "Places", "Taux d'occupation (12 mois)"):
        assert label + " :" in text
    assert re.search(r"Places : \d", text)
    assert "/structureview/show/" in popup.locator("a").get_attribute("href")
    screenshot(page, "carte-popup")
    assert page.problems == []


def test_a_departement_filter_from_the_link_and_the_same_filters_with_tiles(page, live_server):
    live_server.app.config["BHASILE_TILE_URL"] = live_server.url + "/static/vendor/leaflet/images/layers.png?{z}/{x}/{y}"
    try:
        calvados = None
        page.goto("/carte/")
        calvados = page.locator("#map-departement option", has_text="14 - Calvados").get_attribute("value")
        page.goto(f"/carte/?departement={calvados}")
        count = _wait_markers(page)
        assert 0 < count == _server_count(page, f"departement={calvados}")
        page.wait_for_selector(".leaflet-tile")
        _until(page, f"document.querySelectorAll('{OUTLINE}').length >= 100")
        assert page.locator("#map-departement").input_value() == calvados
        page.select_option("#map-type", "HUDA")
        huda = _wait_markers(page, count)
        assert huda == _server_count(page, f"departement={calvados}&type=HUDA") < count
        screenshot(page, "carte-calvados-avec-tuiles")
    finally:
        live_server.app.config["BHASILE_TILE_URL"] = ""
    assert page.problems == []
