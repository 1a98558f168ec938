"""Dashboards and map in a real browser (Debian chromium driven by Playwright): a Calvados agent
sees every chart drawn under the Content-Security-Policy, opens a data table, and finds their
structures on the map without any tile server, a popup linking to the fiche."""
from __future__ import annotations

import pytest


@pytest.fixture()
def page(open_page):
    return open_page("calvados")


def test_every_chart_is_drawn_and_its_table_opens(page):
    page.goto("/tableaux/departement/14/")
    page.wait_for_function("document.querySelectorAll('canvas[data-chart]').length > 0 && "
                           "Array.from(document.querySelectorAll('canvas[data-chart]'))"
                           ".every(c => window.Chart && Chart.getChart(c))")
    assert page.locator("canvas[data-chart]").count() >= 8
    table = page.locator("#graphique-places details")
    table.locator("summary").click()
    assert table.locator("tbody tr").count() >= 1 and table.locator("tbody a").first.is_visible()
    assert page.problems == []


def test_the_map_shows_the_structures_without_tiles(page):
    page.goto("/carte/")
    page.wait_for_selector(".marker-cluster, path.bh-marker")
    assert page.locator(".leaflet-tile").count() == 0  # no tile server configured
    for _ in range(8):  # zoom into clusters until single structures show, then open one
        page.wait_for_selector(".leaflet-container:not(.leaflet-zoom-anim)")
        if page.locator("path.bh-marker").count():
            break
        page.locator(".marker-cluster").first.click()
        page.wait_for_timeout(500)
    page.wait_for_selector(".leaflet-container:not(.leaflet-zoom-anim)")
    page.locator("path.bh-marker").first.dispatch_event("click")
    link = page.locator(".leaflet-popup-content a")
    assert "/structureview/show/" in link.get_attribute("href")
    assert page.problems == []
