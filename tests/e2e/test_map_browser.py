"""The map without a tile server (Debian chromium driven by Playwright): the départements'
outline is drawn under the structures, coloured by type with a legend; the filters (type,
région, département, opérateur) refilter the markers from the server; a popup gives the key
figures and the link to the fiche; the same with tiles configured. Screenshots go to
build/screenshots/."""
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
    return len(page.request.get(f"/carte/structures.json?{query}").json()["structures"])


def test_the_map_draws_the_departements_under_coloured_markers_without_tiles(page):
    page.goto("/carte/")
    total = _wait_markers(page)
    _until(page, f"document.querySelectorAll('{OUTLINE}').length >= 100")
    assert page.locator(".leaflet-tile").count() == 0
    assert total == _server_count(page, "") > 900
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
    colours = page.evaluate("Array.from(new Set(window.bhMap.markers.map(m => m.options.fillColor)))")
    assert colours == ["#18753C"]

    normandie = page.locator("#map-region option", has_text="Normandie").get_attribute("value")
    page.select_option("#map-region", normandie)
    both = _wait_markers(page, cph)
    assert 0 < both < cph and both == _server_count(page, f"type=CPH&region={normandie}")
    rows = page.locator("#bh-map-rows tr")
    assert rows.count() == both
    screenshot(page, "carte-filtre-cph-normandie")

    page.select_option("#map-type", "")
    page.select_option("#map-region", "")
    operateur = page.locator("#map-operateur option").nth(1).get_attribute("value")
    page.select_option("#map-operateur", operateur)
    _until(page, f"window.location.search.includes('operateur={operateur}')")
    expected = _server_count(page, f"operateur={operateur}")
    _until(page, f"Number(document.getElementById('bh-map').dataset.markers) === {expected}")
    mine = _markers(page)
    assert 0 < mine < total

    page.evaluate("""() => new Promise(done => {
        const marker = window.bhMap.markers[0];
        window.bhMap.cluster.zoomToShowLayer(marker, () => { marker.openPopup(); done(); });
    })""")
    popup = page.locator(".leaflet-popup-content")
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
