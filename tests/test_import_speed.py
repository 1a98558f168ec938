"""What makes a preview fast must not change what it says: the rows an agent left exactly as
exported are counted unchanged, still refused outside the territory, a key met twice still a
duplicate; whole numbers read as calamine gives them (floats) clean as the integers they are."""
from __future__ import annotations

import datetime as dt
import io

import openpyxl

from tests.test_import_merge import (CODE, change_in_bhasile, changed_fields, edit, export, preview,
                                     saved_at)


def test_rows_left_as_exported_are_counted_unchanged(app):
    data = export(app, sheets=("Structures", "Places"))
    result = preview(app, data)
    assert not result.errors and not result.changes and not result.notes
    rows = result.counts["Structures"]["unchanged"] + result.counts["Places"]["unchanged"]
    assert rows == result.rows_read > 0


def test_a_row_changed_since_the_export_keeps_its_newer_value(fresh_app):
    old = export(fresh_app)
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle")
    result = preview(fresh_app, old)
    assert changed_fields(result) == {} and not result.errors
    assert [n.message for n in result.notes if n.column == "Commune"] == [
        "modifié dans BHasile depuis l'export (valeur actuelle conservée : Bayeux-Nouvelle)"]


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
    """The agent copies an untouched row below the others: the key met twice is an error."""
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
    """An export of as many rows as an import may hold can be imported again (it holds no
    copy of its rows); one row more is refused."""
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


def test_a_forged_export_instant_is_a_file_without_export_metadata(fresh_app):
    """``export_utc`` unreadable or set in the future (which would hide the changes made
    since): the file is compared as a file without export metadata — the row BHasile changed
    after the file was last saved is flagged « à vérifier »."""
    old = saved_at(export(fresh_app), dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5))
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle")
    for value in ("abc", 12.5, "", "2999-01-01T00:00:00+00:00"):
        result = preview(fresh_app, saved_at(_meta(old, "export_utc", value),
                                             dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)))
        assert result.problem is None and not result.errors, value
        assert set(changed_fields(result)) == {"commune"}, value
        assert [n.column for n in result.notes if n.message.startswith("à vérifier")] == ["Code DNA"]
