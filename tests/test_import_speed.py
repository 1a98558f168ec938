"""What makes a preview fast must not change what it says: the rows an agent left exactly as
exported (and BHasile did not change since) are not cleaned nor compared, yet still counted and
still refused outside the territory; whole numbers read as calamine gives them (floats) clean
as the integers they are."""
from __future__ import annotations

import io

import openpyxl

from tests.test_import_merge import CODE, change_in_bhasile, changed_fields, edit, export, preview


def _fills(monkeypatch):
    """Counts the rows cleaned cell by cell (``ImportCommand._fill``)."""
    from imports import pipeline

    calls = []
    real = pipeline.ImportCommand._fill

    def spy(self, rec, maps, cells):
        calls.append(rec.row)
        return real(self, rec, maps, cells)

    monkeypatch.setattr(pipeline.ImportCommand, "_fill", spy)
    return calls


def test_rows_left_as_exported_are_only_counted(app, monkeypatch):
    data = export(app, sheets=("Structures", "Places"))
    calls = _fills(monkeypatch)
    result = preview(app, data)
    assert not result.errors and not result.changes and not result.notes
    rows = result.counts["Structures"]["unchanged"] + result.counts["Places"]["unchanged"]
    assert rows == result.rows_read > 0
    assert calls == []            # no row cleaned: every key read from its cells' caches


def test_a_row_changed_since_the_export_is_read_in_full(fresh_app, monkeypatch):
    old = export(fresh_app)
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle")
    calls = _fills(monkeypatch)
    result = preview(fresh_app, old)
    assert changed_fields(result) == {} and not result.errors
    assert [n.message for n in result.notes if n.column == "Commune"] == [
        "modifié dans BHasile depuis l'export (valeur actuelle conservée : Bayeux-Nouvelle)"]
    assert calls                  # the changed row (and its twin row) cleaned as always


def test_an_edited_row_is_read_in_full_and_its_change_applies(fresh_app):
    result = preview(fresh_app, edit(export(fresh_app), "Structures", CODE, Notes="revu"))
    assert set(changed_fields(result)) == {"notes"} and not result.errors


def test_rows_of_another_territory_left_as_exported_are_still_refused(app):
    """A national export read by a Calvados agent: every row of another département is an
    error, as exported or not, and nothing of the stored row is shown."""
    data = export(app, login=None, sheets=("Structures",))
    result = preview(app, data)
    counts = result.counts["Structures"]
    assert counts["errors"] > 0 and counts["unchanged"] > 0
    assert counts["errors"] + counts["unchanged"] == result.rows_read
    assert all(e.sheet == "Structures" and e.column == "Code DNA" for e in result.errors)
    assert not result.changes


def test_a_duplicated_row_left_as_exported_is_still_a_duplicate(app):
    """The agent copies an untouched row below the others: one copy matches the twin, the
    other is read in full, and the key met twice is an error."""
    book = openpyxl.load_workbook(io.BytesIO(export(app)))
    ws = book["Structures"]
    ws.append([c.value for c in ws[2]])
    out = io.BytesIO()
    book.save(out)
    result = preview(app, out.getvalue())
    assert any("clé en double" in e.message for e in result.errors)


def test_whole_numbers_clean_as_integers(app):
    """calamine reads 2024 typed in a cell as 2024.0: keys, years and codes read the same."""
    from imports.reader import read_file

    data = export(app, sheets=("Places",))
    sheets = {s.name: s for s in read_file(data, "x.xlsx", 100_000, 200)}
    years = {type(cells[1]) for _n, cells in sheets["Places"].rows[1:]}
    assert years == {float}
    result = preview(app, edit(data, "Places", CODE, **{}))
    assert not result.errors and not result.changes


def test_an_export_of_max_rows_imports_again(app, monkeypatch):
    """The hidden twins repeat every row of their sheet: their rows are counted apart, so an
    export of as many rows as an import may hold can be imported again; a visible sheet over
    the limit is still refused."""
    data = export(app, sheets=("Structures", "Places"))
    book = openpyxl.load_workbook(io.BytesIO(data))
    visible = sum(book[name].max_row for name in ("Structures", "Places", "_bhasile"))
    monkeypatch.setitem(app.config, "BHASILE_IMPORT_MAX_ROWS", visible)
    result = preview(app, data)
    assert result.problem is None and not result.errors and not result.changes
    monkeypatch.setitem(app.config, "BHASILE_IMPORT_MAX_ROWS", visible - 1)
    result = preview(app, data)
    assert result.problem and "lignes" in result.problem and not result.changes


def _meta(data: bytes, key: str, value) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book["_bhasile"]
    row = next(r for r in ws.iter_rows() if r[0].value == key)
    row[1].value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_forged_export_instant_never_writes_more(fresh_app):
    """``export_utc`` unreadable: every row read in full, as before; set in the future: the
    change made since is not noted, but the row left as exported is still not written."""
    old = export(fresh_app)
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle")
    for value in ("abc", 12.5, ""):
        result = preview(fresh_app, _meta(old, "export_utc", value))
        assert result.problem is None and not result.errors and changed_fields(result) == {}
        assert any("Bayeux-Nouvelle" in n.message for n in result.notes)
    result = preview(fresh_app, _meta(old, "export_utc", "2999-01-01T00:00:00+00:00"))
    assert result.problem is None and not result.errors and not result.changes
