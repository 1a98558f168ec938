"""The grid in a real browser (Debian chromium driven by Playwright, never a downloaded one):
a Calvados agent edits a cell, pastes a 3×2 block from a spreadsheet, saves, reloads and sees
the values, then types an invalid number and sees the error on the cell."""
from __future__ import annotations

import pytest

FIELDS = ("places_autorisees", "places_occupees", "places_vacantes")


@pytest.fixture()
def page(open_page):
    return open_page("calvados", permissions=("clipboard-read", "clipboard-write"))


def cell(page, row: int, field: str):
    return page.locator(".tabulator-row").nth(row).locator(f'.tabulator-cell[tabulator-field="{field}"]')


def open_grid(page) -> None:
    page.goto("/grille/activite/")
    page.wait_for_selector(".tabulator-row .tabulator-cell")


def paste(page, text: str) -> None:
    """Ctrl+V with ``text`` on the system clipboard, as after a copy in Excel or LibreOffice."""
    page.evaluate("t => navigator.clipboard.writeText(t)", text)
    page.keyboard.press("Control+V")


def test_edit_paste_save_reload_then_error_on_cell(page):
    from playwright.sync_api import expect

    open_grid(page)
    assert page.locator("#bh-grid[role=grid], #bh-grid [role=grid]").count() >= 1
    # edit one cell with the keyboard alone: select, type (replaces the content), Enter
    cell(page, 0, "places_autorisees").click()
    page.keyboard.type("41")
    page.keyboard.press("Enter")
    assert "bh-dirty" in cell(page, 0, "places_autorisees").get_attribute("class")
    # paste a 3×2 block (3 rows, 2 columns) from a spreadsheet at row 2, Places occupées
    cell(page, 2, "places_occupees").click()
    paste(page, "11\t1\r\n12\t2\r\n13\t3\r\n")
    assert cell(page, 4, "places_vacantes").inner_text() == "3"
    assert page.locator("#bh-grid-count").inner_text() == "7"
    page.click("#bh-grid-save")
    expect(page.locator("#bh-grid-status")).to_contain_text("grid save")
    page.reload()
    page.wait_for_selector(".tabulator-row .tabulator-cell")
    assert cell(page, 0, "places_autorisees").inner_text() == "41"
    assert [cell(page, r, "places_occupees").inner_text() for r in (2, 3, 4)] == ["11", "12", "13"]
    assert [cell(page, r, "places_vacantes").inner_text() for r in (2, 3, 4)] == ["1", "2", "3"]
    assert page.locator(".bh-dirty").count() == 0
    # an invalid number: refused, shown on its cell and announced
    target = cell(page, 1, "places_autorisees")
    target.click()
    page.keyboard.press("F2")
    page.keyboard.press("Control+A")
    page.keyboard.type("douze")
    page.keyboard.press("Enter")
    page.click("#bh-grid-save")
    page.wait_for_selector(".tabulator-cell.bh-error")
    assert "bh-error" in target.get_attribute("class")
    assert "n'est pas un nombre" in target.get_attribute("title")
    assert target.get_attribute("aria-invalid") == "true"
    expect(page.locator("#bh-grid-alert")).to_contain_text("douze")
    assert not [p for p in page.problems if "Content Security Policy" in p]


def test_fill_down_undo_and_column_chooser_with_the_keyboard(page):
    from playwright.sync_api import expect

    open_grid(page)
    before = [cell(page, r, "travaux").inner_text() for r in (0, 1, 2)]
    top = cell(page, 0, "travaux")
    top.click()
    page.keyboard.type("5")
    page.keyboard.press("Enter")   # as in a spreadsheet, Enter goes down: back up
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Control+d")
    assert [cell(page, r, "travaux").inner_text() for r in (0, 1, 2)] == ["5", "5", "5"]
    assert page.locator("#bh-grid-count").inner_text() == "3"
    page.click("#bh-grid-save")
    expect(page.locator("#bh-grid-status")).to_contain_text("grid save")
    page.click("#bh-grid-undo")
    expect(page.locator("#bh-grid-status")).to_contain_text("annulée")
    page.reload()
    page.wait_for_selector(".tabulator-row .tabulator-cell")
    assert [cell(page, r, "travaux").inner_text() for r in (0, 1, 2)] == before
    page.click(".bh-grid-columns summary")
    page.locator('input[data-column="travaux"]').set_checked(False, force=True)  # the DSFR label covers it
    expect(page.locator('.tabulator-col[tabulator-field="travaux"]')).to_be_hidden()
    page.wait_for_timeout(300)
    page.reload()
    page.wait_for_selector(".tabulator-row .tabulator-cell")
    assert page.locator('.tabulator-col[tabulator-field="travaux"]').count() == 0 or \
        not page.locator('.tabulator-col[tabulator-field="travaux"]').is_visible()
