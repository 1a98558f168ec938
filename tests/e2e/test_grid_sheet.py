"""The grid as a spreadsheet (issue #17), in Debian chromium: the keyboard of a spreadsheet,
undo and redo of unsaved edits, a paste across the former N−1 layout, quick formulas, the
selection's count, sum and average, numbers in French, a value filter with counts, adding
and deleting a row, a stale save resolved cell by cell, and the state API of saved views."""
from __future__ import annotations

import pytest

from tests.e2e.test_grid_browser import cell, paste

ROWS = ".tabulator-row:not(.tabulator-calcs)"
PLACES = ("places_autorisees", "pmr", "lgbt", "fvv_teh", "places_a_creer")


@pytest.fixture()
def page(open_page):
    return open_page("calvados", permissions=("clipboard-read", "clipboard-write"))


def open_grid(page, slug: str) -> None:
    page.goto(f"/grille/{slug}/")
    page.wait_for_selector(".tabulator-row .tabulator-cell")


def active(page) -> tuple[int, str]:
    """(row index on the page, field) of the active cell."""
    return tuple(page.evaluate("""() => {
      const r = window.bhGrid.modules.selectRange.activeRange;
      const rows = window.bhGrid.rowManager.getDisplayRows(), cols = window.bhGrid.columnManager.getVisibleColumnsByIndex();
      return [r.start.row, cols[r.start.col].getField()];
    }"""))


def test_keyboard_moves_as_in_a_spreadsheet(page):
    open_grid(page, "places")
    cell(page, 0, "pmr").click()
    page.keyboard.press("Enter")
    assert active(page) == (1, "pmr")
    page.keyboard.press("Shift+Enter")
    assert active(page) == (0, "pmr")
    page.keyboard.press("Tab")
    assert active(page) == (0, "lgbt")
    page.keyboard.press("Shift+Tab")
    assert active(page) == (0, "pmr")
    page.keyboard.press("End")
    last = page.evaluate("() => window.bhGrid.columnManager.getVisibleColumnsByIndex().slice(-1)[0].getField()")
    assert active(page) == (0, last)
    page.keyboard.press("Home")
    assert active(page) == (0, "code_dna")
    page.keyboard.press("Control+ArrowDown")
    rows = page.locator(ROWS).count()
    assert active(page) == (rows - 1, "code_dna")
    page.keyboard.press("Control+Home")
    assert active(page) == (0, "code_dna")
    # typing replaces, Enter commits and goes down, Tab in an edit commits and goes right
    cell(page, 0, "pmr").click()
    page.keyboard.type("7")
    page.keyboard.press("Enter")
    assert cell(page, 0, "pmr").inner_text() == "7"
    assert active(page) == (1, "pmr")
    page.keyboard.press("F2")
    page.keyboard.press("Control+A")
    page.keyboard.type("8")
    page.keyboard.press("Tab")
    assert cell(page, 1, "pmr").inner_text() == "8"
    assert active(page) == (1, "lgbt")
    # Ctrl+Z twice, Ctrl+Y once: several levels over unsaved edits
    before0 = page.evaluate("() => window.bhGrid.getRows()[0].getData().pmr")
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    assert cell(page, 1, "pmr").get_attribute("class").count("bh-dirty") == 0
    assert page.locator("#bh-grid-count").inner_text() == "0"
    assert page.evaluate("() => window.bhGrid.getRows()[0].getData().pmr") != before0
    page.keyboard.press("Control+y")
    assert cell(page, 0, "pmr").inner_text() == "7"
    assert page.locator("#bh-grid-count").inner_text() == "1"
    # Delete clears a selection (one undo level)
    cell(page, 2, "pmr").click()
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Delete")
    assert cell(page, 2, "pmr").inner_text() == "" and cell(page, 2, "lgbt").inner_text() == ""
    page.keyboard.press("Control+z")
    assert cell(page, 2, "pmr").inner_text() != "" or cell(page, 2, "lgbt").inner_text() != ""
    assert not page.problems


def test_paste_across_the_former_n1_layout_lands_on_the_visible_columns(page):
    from playwright.sync_api import expect

    open_grid(page, "places")
    # N−1 columns are no longer inside the editable block: PMR, LGBT, FVV/TEH side by side
    fields = page.evaluate("() => window.bhGrid.columnManager.getVisibleColumnsByIndex().map(c => c.getField())")
    assert fields.index("lgbt") == fields.index("pmr") + 1 and fields.index("fvv_teh") == fields.index("lgbt") + 1
    assert "N−1" in cell(page, 0, "pmr").get_attribute("title")
    cell(page, 0, "pmr").click()
    paste(page, "11\t22\t33\r\n")
    assert [cell(page, 0, f).inner_text() for f in ("pmr", "lgbt", "fvv_teh")] == ["11", "22", "33"]
    # the N−1 group shown again sits after the editable block
    page.locator("label[for=bh-grid-n1]").click()
    fields = page.evaluate("() => window.bhGrid.columnManager.getVisibleColumnsByIndex().map(c => c.getField())")
    n1 = [i for i, f in enumerate(fields) if f and f.endswith("__n1")]
    assert n1 and min(n1) > max(fields.index(f) for f in PLACES)
    # a paste touching a read-only column names it and shifts nothing
    cell(page, 1, "structure_nom").click()
    paste(page, "X\t44\r\n")
    expect(page.locator("#bh-grid-alert")).to_contain_text("Nom")
    assert cell(page, 1, "places_autorisees").inner_text() == "44"
    page.click("#bh-grid-save")
    expect(page.locator("#bh-grid-status")).to_contain_text("grid save")
    page.reload()
    page.wait_for_selector(".tabulator-row .tabulator-cell")
    assert [cell(page, 0, f).inner_text() for f in ("pmr", "lgbt", "fvv_teh")] == ["11", "22", "33"]


def test_formulas_give_values_and_the_selection_is_summed_in_french(page):
    from playwright.sync_api import expect

    open_grid(page, "budgets")
    target = cell(page, 0, "dotation_demandee")
    target.click()
    page.keyboard.type("=1200000+3037,12")
    page.keyboard.press("Enter")
    assert target.inner_text().replace("\u202f", " ").replace("\u00a0", " ") == "1 203 037,12 €"
    assert page.evaluate("() => window.bhGrid.getRows()[0].getData().dotation_demandee") == "1203037,12"
    # a reference: letter of the column, number of the row
    letter = page.evaluate("""() => window.bhGrid.columnManager.getVisibleColumnsByIndex()
        .filter(c => c.getField()).findIndex(c => c.getField() === 'dotation_demandee')""")
    ref = chr(65 + letter) + "1"
    cell(page, 1, "dotation_demandee").click()
    page.keyboard.type(f"={ref}*2")
    page.keyboard.press("Enter")
    assert page.evaluate("() => window.bhGrid.getRows()[1].getData().dotation_demandee") == "2406074,24"
    cell(page, 2, "dotation_demandee").click()
    page.keyboard.type("=2+")
    page.keyboard.press("Enter")
    expect(page.locator("#bh-grid-alert")).to_contain_text("Formule illisible")
    # selection of two cells: count, sum, average
    cell(page, 0, "dotation_demandee").click()
    page.keyboard.press("Shift+ArrowDown")
    text = page.locator("#bh-grid-sum").inner_text().replace("\u202f", " ").replace("\u00a0", " ")
    assert "Nombre : 2" in text and "Somme : 3 609 111,36" in text and "Moyenne : 1 804 555,68" in text
    # a refused save does not stay « Enregistrement en cours… »
    cell(page, 2, "etp").click()
    page.keyboard.type("douze")
    page.keyboard.press("Enter")
    page.click("#bh-grid-save")
    expect(page.locator("#bh-grid-status")).to_contain_text("refusé")
    # the totals row of the page (last: showing it redraws the rows, and a cell clicked during
    # that redraw lost the keys typed next — the fresh-clone run typed « douze » into nothing)
    page.locator("label[for=bh-grid-totals]").click()
    expect(page.locator("#bh-grid .tabulator-calcs-holder").first).to_be_visible()


def test_value_filter_lists_values_with_counts(page):
    from playwright.sync_api import expect

    open_grid(page, "structures")
    total = page.locator(ROWS).count()
    page.click('.bh-vf-btn[data-field="type"]')
    expect(page.locator(".bh-vf input[data-value]").first).to_be_visible()
    labels = page.locator(".bh-vf label").all_inner_texts()
    assert all("(" in label for label in labels) and len(labels) >= 2
    counts = [int(label.rsplit("(", 1)[1].rstrip(")")) for label in labels]
    assert sum(counts) == total
    keep = page.locator(".bh-vf input[data-value]").first.get_attribute("data-value")
    boxes = page.locator(".bh-vf input[data-value]")
    for i in range(1, boxes.count()):
        boxes.nth(i).uncheck()
    page.click(".bh-vf-apply")
    expect(page.locator(ROWS)).to_have_count(counts[0])
    assert {cell(page, i, "type").inner_text() for i in range(counts[0])} == {keep}
    assert page.evaluate("() => window.bhasileGrid.getState().filters.type") == [keep]
    # global search
    page.evaluate("() => window.bhasileGrid.applyState({filters: {}, search: 'HUDA'})")
    page.wait_for_timeout(500)
    assert all("HUDA" in cell(page, i, "nom").inner_text().upper() or "H" in cell(page, i, "code_dna").inner_text()
               for i in range(page.locator(ROWS).count()))
    assert page.locator("#bh-grid-search").input_value() == "HUDA"


def test_add_then_delete_a_structure(page):
    from playwright.sync_api import expect

    open_grid(page, "structures")
    page.click("#bh-grid-add")
    page.fill("#bh-add-code_dna", "C1499")
    page.fill("#bh-add-nom", "CADA Essai grille")
    page.select_option("#bh-add-type", index=1)
    page.click("#bh-grid-add-form [type=submit]")
    expect(page.locator("#bh-grid-add-errors")).to_contain_text("Département")  # required, as in the form
    page.fill("#bh-add-departement", "14")
    page.click("#bh-grid-add-form [type=submit]")
    expect(page.locator("#bh-grid-status")).to_contain_text("Ligne ajoutée")
    page.fill("#bh-grid-search", "C1499")
    expect(page.locator(ROWS)).to_have_count(1)
    cell(page, 0, "nom").click()
    page.once("dialog", lambda d: d.accept())
    page.click("#bh-grid-delete")
    expect(page.locator("#bh-grid-status")).to_contain_text("supprimée")
    expect(page.locator(ROWS)).to_have_count(0)


def test_a_stale_save_is_resolved_cell_by_cell(open_page):
    from playwright.sync_api import expect

    mine, theirs = open_page("calvados"), open_page("calvados")
    for tab in (mine, theirs):
        open_grid(tab, "budgets")
    # someone else saves a value in the cell I am editing
    cell(theirs, 3, "total_produits").click()
    theirs.keyboard.type("555")
    theirs.keyboard.press("Enter")
    theirs.click("#bh-grid-save")
    expect(theirs.locator("#bh-grid-status")).to_contain_text("grid save")
    cell(mine, 3, "total_produits").click()
    mine.keyboard.type("777")
    mine.keyboard.press("Tab")
    mine.keyboard.type("888")   # another cell of the same row, not in conflict
    mine.keyboard.press("Enter")
    mine.click("#bh-grid-save")
    panel = mine.locator("#bh-grid-conflicts")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("777")
    expect(panel).to_contain_text("555")
    panel.locator("input[value=theirs]").first.check()
    mine.click("#bh-grid-conflict-apply")
    assert mine.locator("#bh-grid-count").inner_text() == "1"   # the other cell's edit is kept
    mine.click("#bh-grid-save")
    expect(mine.locator("#bh-grid-status")).to_contain_text("grid save")
    mine.reload()
    mine.wait_for_selector(".tabulator-row .tabulator-cell")
    assert cell(mine, 3, "total_produits").inner_text().startswith("555")
    assert cell(mine, 3, "total_charges").inner_text().startswith("888")


def test_state_api_for_saved_views(page):
    open_grid(page, "places")
    state = page.evaluate("() => window.bhasileGrid.getState()")
    assert {"columns", "frozen", "sort", "filters", "search"} <= set(state)
    fields = [c["field"] for c in state["columns"]]
    state["columns"] = [{"field": f, "visible": f != "lgbt", "width": None} for f in reversed(fields)]
    state["frozen"] = ["code_dna", "structure_nom"]
    state["sort"] = [{"field": "pmr", "dir": "desc"}, {"field": "code_dna", "dir": "asc"}]
    page.evaluate("s => window.bhasileGrid.applyState(s)", state)
    page.wait_for_timeout(500)
    again = page.evaluate("() => window.bhasileGrid.getState()")
    assert again["frozen"] == ["code_dna", "structure_nom"]
    assert [s["field"] for s in again["sort"]] == ["pmr", "code_dna"]
    assert not [c for c in again["columns"] if c["field"] == "lgbt"][0]["visible"]
    pmr = [int(cell(page, i, "pmr").inner_text() or 0) for i in range(page.locator(ROWS).count())]
    assert pmr == sorted(pmr, reverse=True)
