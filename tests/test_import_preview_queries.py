"""The preview reads the database a fixed number of times, whatever the number of rows: one
query per sheet for the stored rows (per chunk of ``CHUNK_RECORDS`` records: a large sheet's
stored rows are never all held), the lookups and the user's territory loaded once."""
from __future__ import annotations

import io
from itertools import islice

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.scope import NATIONAL
from app.sheets import BY_NAME, SHEETS
from imports.cli import user_scope
from imports.pipeline import CHUNK_RECORDS, ImportCommand


def _workbook(limit: int | None) -> bytes:
    """Every sheet as exported; Places rows with one more place (changed rows are checked)."""
    from exports.queries import sheet_rows
    from exports.writer import WorkbookWriter

    out = io.BytesIO()
    writer = WorkbookWriter(out)
    for sheet in SHEETS:
        rows = sheet_rows(db.session, BY_NAME[sheet.name], NATIONAL)
        if sheet.name == "Places":
            rows = ([r[0], r[1], (r[2] or 0) + 1, *r[3:]] for r in rows)
        writer.add_sheet(sheet, islice(rows, limit) if limit else rows)
    writer.close()
    db.session.rollback()
    return out.getvalue()


def _statements(data: bytes, scope) -> tuple[int, object]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        result = ImportCommand(data, "classeur.xlsx", scope).validate()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
        db.session.rollback()
    return len(seen), result


def _sheet_rows(result) -> dict[str, int]:
    """Records compared per sheet."""
    return {sheet: sum(counts.values()) for sheet, counts in result.counts.items()}


@pytest.fixture(scope="module")
def workbooks(app):
    with app.app_context():
        return _workbook(5), _workbook(None)


def test_statements_do_not_grow_with_rows(app, workbooks):
    small, large = workbooks
    with app.app_context():
        n_small, small_result = _statements(small, NATIONAL)
        n_large, large_result = _statements(large, NATIONAL)
        assert large_result.rows_read > 20 * small_result.rows_read
        assert not large_result.errors and not small_result.errors
        # the Activité sheet's 24,000 rows are compared in two chunks: one more statement
        chunks = sum(-(-n // CHUNK_RECORDS) - 1 for n in _sheet_rows(large_result).values())
        assert chunks == 1
        assert n_large == n_small + chunks <= 20 + chunks


def test_scoped_preview_statements_fixed_and_out_of_scope_refused(app, workbooks):
    small, large = workbooks
    with app.app_context():
        scope, _user = user_scope("calvados")
        n_small, _small = _statements(small, scope)
        n_large, result = _statements(large, scope)
        # the national preview's 11, and the write gate's territory: one query per model of
        # the stored rows the file refers to (structures, places, budgets, activity, addresses
        # and their years, opérateurs, conventions), and the structures the CPOM lines link beyond the agent's codes, asked for all the rows
        # at once; and, this
        # file having no export base, one query of the history for the rows it changes that
        # BHasile changed since the file was saved (« à vérifier », imports.merge) — asked only
        # when the file changes a stored row of the territory (the large file does)
        chunks = sum(-(-n // CHUNK_RECORDS) - 1 for n in _sheet_rows(result).values())
        assert n_small <= n_large <= 11 + 9 + 1 + chunks
        refused = {e.sheet for e in result.errors if "hors de votre périmètre" in e.message}
        assert "Places" in refused, "rows of other départements must be refused"


def _edited_export(limit: int | None) -> bytes:
    """The national export of the Places sheet (with its export instant: merged with its base),
    every row's « Places autorisées » one more, cut after ``limit`` rows."""
    import openpyxl

    from exports.workbook import export_workbook

    out = io.BytesIO()
    export_workbook(db.session, out, NATIONAL, sheets=["Places"], user="admin")
    db.session.rollback()
    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    ws = book["Places"]
    column = [c.value for c in ws[1]].index("Places autorisées") + 1
    if limit:
        ws.delete_rows(limit + 2, ws.max_row)
    for row in range(2, ws.max_row + 1):
        ws.cell(row, column).value = (ws.cell(row, column).value or 0) + 1
    edited = io.BytesIO()
    book.save(edited)
    return edited.getvalue()


def test_an_edited_national_export_read_by_an_agent_asks_a_fixed_number_of_statements(app):
    """Each changed row of another territory is refused; whether a row is inside the territory
    is asked for all the rows at once (the merge asked once per changed row: 1,729 statements
    for the park's export)."""
    with app.app_context():
        small, large = _edited_export(5), _edited_export(None)
        scope, _user = user_scope("calvados")
        n_small, _small = _statements(small, scope)
        n_large, result = _statements(large, scope)
    assert result.rows_read > 100 and sum(c["updated"] for c in result.counts.values()) > 0
    assert any("hors de votre périmètre" in e.message for e in result.errors)
    assert n_large <= n_small + 2
