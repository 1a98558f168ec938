"""Dashboards and map in a real browser (Debian chromium driven by Playwright): a Calvados agent
sees every chart drawn under the Content-Security-Policy, opens a data table, and finds their
structures on the map without any tile server, a popup linking to the fiche."""
from __future__ import annotations

import shutil
import threading

import pytest

from tests import dbutil
from tests.conftest import make_app

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium absent : lancez make system-deps")


@pytest.fixture(scope="module")
def server(template_db, tmp_path_factory):
    from werkzeug.serving import make_server

    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path_factory.mktemp("dash_browser"))
    with application.app_context():
        from app.jobs import run_job

        run_job("rebuild", "test")
    srv = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(5)
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        tab = browser.new_context(base_url=server, locale="fr-FR").new_page()
        tab.set_default_timeout(15000)
        problems: list[str] = []
        tab.on("pageerror", lambda e: problems.append(str(e)))
        tab.on("response", lambda r: problems.append(f"{r.status} {r.url}")
               if r.status >= 400 and not r.url.endswith("favicon.ico") else None)
        tab.goto("/login/")
        tab.fill("#username", "calvados")
        tab.fill("#password", dbutil.PASSWORD)
        tab.locator("form [type=submit]").first.click()
        tab.wait_for_load_state()
        tab.problems = problems
        yield tab
        browser.close()


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
