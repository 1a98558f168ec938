"""Saved views in a real browser (issue #17 item 8): an agent filters a list, hides a column,
saves it as a view shared with the territory; a colleague of the région reopens it from the
toolbar (keyboard only) and exports it: the workbook holds the rows and columns the page shows,
in the colleague's own scope; an opérateur outside the territory never sees it. On a grid: a
filter and a hidden column saved, the bare page reopened from the view, exported as seen."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.e2e import axe


def _header(page) -> list[str]:
    return [t.strip() for t in page.locator("table thead th").all_inner_texts()]


def _count(page) -> int:
    text = page.locator(".bh-page-head p").first.inner_text()
    return int(text.split(":")[-1].strip().replace("\u202f", "").replace(" ", ""))


def _workbook(download) -> tuple[list, list]:
    sheet = load_workbook(io.BytesIO(open(download.path(), "rb").read())).worksheets[0]
    rows = [r for r in sheet.iter_rows(values_only=True)]
    return list(rows[0]), [r for r in rows[1:] if r and r[0]]


def test_list_view_create_share_reopen_export(open_page):
    from playwright.sync_api import expect

    page = open_page("calvados")
    page.goto("/structureview/list/?type=CADA&sort=nom")
    # column chooser: hide « Bâti »
    page.locator(".bh-vues-colonnes summary").click()
    page.uncheck("#bh-vues-col-bati")
    page.get_by_role("button", name="Appliquer les colonnes").click()
    page.wait_for_url("**colonnes=**")
    assert "Bâti" not in _header(page) and "Type" in _header(page)
    assert "type=CADA" in page.url
    # save it, shared with the territory, with the keyboard only
    page.locator(".bh-vues-nouvelle summary").focus()
    page.keyboard.press("Enter")
    page.locator("#bh-vues-nom").focus()
    page.keyboard.type("CADA du Calvados sans bâti")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert page.is_checked("#bh-vues-partager")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**vue=**")
    expect(page.locator("#bh-vues-liste option:checked")).to_contain_text("CADA du Calvados sans bâti")
    assert "Bâti" not in _header(page)
    serious = axe.blocking(axe.violations(page))
    assert not serious, axe.report(serious, "la liste des structures avec ses vues enregistrées")
    assert page.problems == []

    # a colleague of the région: the shared view is in the toolbar; opened with the keyboard
    colleague = open_page("normandie")
    colleague.goto("/structureview/list/")
    assert "Bâti" in _header(colleague)
    options = colleague.locator("#bh-vues-liste option").all_inner_texts()
    name = next(o for o in options if "CADA du Calvados sans bâti" in o)
    assert "partagée avec vous" in name
    colleague.select_option("#bh-vues-liste", label=name)
    colleague.locator("#bh-vues-liste").focus()
    colleague.keyboard.press("Enter")
    colleague.wait_for_url("**vue=**")
    assert "type=CADA" in colleague.url and "Bâti" not in _header(colleague)
    shown = _count(colleague)
    types = set(colleague.locator("table tbody tr td:nth-child(2)").all_inner_texts())
    assert types == {"CADA"}
    # exported as it is: same rows (the colleague's scope), same columns
    with colleague.expect_download() as download:
        colleague.click("#bh-vues-exporter")
    header, rows = _workbook(download.value)
    assert "Bâti" not in header and "Places autorisées (dernière année)" in header
    assert len(rows) == shown
    assert {r[header.index("Type")] for r in rows} == {"CADA"}
    # the colleague may not change it
    colleague.click("#bh-vues-supprimer")
    expect(colleague.locator("#bh-vues-statut")).to_contain_text("Seules vos propres vues")
    assert colleague.problems == []

    # an opérateur is outside the Calvados territory: not listed
    outsider = open_page("operateur")
    outsider.goto("/structureview/list/")
    assert not [o for o in outsider.locator("#bh-vues-liste option").all_inner_texts()
                if "CADA du Calvados" in o]


@pytest.mark.parametrize("slug", ["structures"])
def test_grid_view_create_reopen_export(open_page, slug):
    from playwright.sync_api import expect

    page = open_page("calvados")
    page.goto(f"/grille/{slug}/")
    page.wait_for_selector(".tabulator-row .tabulator-cell")
    commune = page.locator('.tabulator-row .tabulator-cell[tabulator-field="commune"]').first.inner_text()
    assert commune
    box = page.locator('.tabulator-col[tabulator-field="commune"] .tabulator-header-filter input')
    box.click()
    box.press_sequentially(commune)
    box.press("Enter")
    page.wait_for_function(
        "c => [...document.querySelectorAll('.tabulator-row .tabulator-cell[tabulator-field=commune]')]"
        ".every(e => e.textContent.includes(c))", arg=commune)
    page.evaluate("window.bhGrid.getColumn('nom').hide()")
    page.locator(".bh-vues-nouvelle summary").click()
    page.fill("#bh-vues-nom", f"Grille {commune}")
    page.click("#bh-vues-enregistrer")
    page.wait_for_url("**vue=**")
    page.wait_for_selector("#bh-vues[data-applied=oui]")
    # reopened from the bare page: the filter and the hidden column come back
    page.goto(f"/grille/{slug}/")
    page.wait_for_selector(".tabulator-row .tabulator-cell")
    page.select_option("#bh-vues-liste", label=f"Grille {commune}")
    page.click("#bh-vues-ouvrir")
    page.wait_for_selector("#bh-vues[data-applied=oui]")
    expect(page.locator('.tabulator-col[tabulator-field="commune"] .tabulator-header-filter input')).to_have_value(commune)
    assert page.evaluate("window.bhGrid.getColumn('nom').isVisible()") is False
    expect(page.locator("#bh-vues-statut")).to_contain_text("appliquée")
    # exported as seen
    with page.expect_download() as download:
        page.click("#bh-vues-exporter")
    header, rows = _workbook(download.value)
    assert rows and all(commune.lower() in str(r[header.index("Commune")]).lower() for r in rows)
    assert "Nom" not in header
    assert page.problems == []
