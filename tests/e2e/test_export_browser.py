"""A background export in a real browser: the « Export en cours » page moves its progress bar
by itself (static script, CSP on), announces the end, offers the file, and passes axe."""
from __future__ import annotations

import pytest

from tests.e2e import axe


@pytest.fixture()
def small_limit(live_server):
    config = live_server.app.config
    previous = config["BHASILE_EXPORT_SYNC_MAX_ROWS"]
    config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = 5
    yield
    config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = previous


def test_progress_page_ends_with_the_download_link(open_page, small_limit):
    from playwright.sync_api import expect

    page = open_page("calvados")
    page.goto("/exporter/classeur.xlsx")
    serious = axe.blocking(axe.violations(page))
    assert not serious, axe.report(serious, "la page de confirmation de l'export")
    page.click("#bh-export-confirm [type=submit]")
    page.wait_for_url("**/exporter/suivi/**")
    expect(page.locator("#bh-export-download")).to_be_visible(timeout=60000)
    expect(page.locator("#bh-export-status")).to_have_text("Terminé")
    expect(page.locator("#bh-export-live")).to_contain_text("Export terminé")
    progress = page.locator("#bh-export-progress")
    assert progress.get_attribute("value") == progress.get_attribute("max")
    with page.expect_download() as download:
        page.click("#bh-export-link")
    assert download.value.suggested_filename.startswith("bhasile-classeur-")
    serious = axe.blocking(axe.violations(page))
    assert not serious, axe.report(serious, "la page « Export en cours »")
    page.goto("/exporter/mes-exports/")
    assert page.locator("table a[href*='/fichier']").count() >= 1
    serious = axe.blocking(axe.violations(page))
    assert not serious, axe.report(serious, "la page « Mes exports »")
    assert not [p for p in page.problems if "Content Security Policy" in p]
