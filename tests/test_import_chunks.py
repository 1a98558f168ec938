"""A preview compares a sheet ``CHUNK_RECORDS`` records at a time and reads only those records'
stored rows: whatever the chunk size, the same statuses, changes, errors and duplicates."""
from __future__ import annotations

import io
from itertools import islice

import pytest

from app.extensions import db
from app.scope import NATIONAL
from app.sheets import BY_NAME, SHEETS
from imports import pipeline
from imports.cli import user_scope
from imports.pipeline import ImportCommand


def _workbook() -> bytes:
    """Every sheet as exported (no export instant: compared with the stored rows), with every
    seventh Places row one place more, and a Places row repeated at the end of its sheet."""
    from exports.queries import sheet_rows
    from exports.writer import WorkbookWriter

    out = io.BytesIO()
    writer = WorkbookWriter(out)
    for sheet in SHEETS:
        rows = list(sheet_rows(db.session, BY_NAME[sheet.name], NATIONAL))
        if sheet.name == "Places":
            rows = [[r[0], r[1], (r[2] or 0) + 1, *r[3:]] if not i % 7 else list(r)
                    for i, r in enumerate(rows)]
            rows.append(list(rows[3]))
        writer.add_sheet(sheet, rows)
    writer.close()
    db.session.rollback()
    return out.getvalue()


def _outcome(data: bytes, scope) -> tuple:
    result = ImportCommand(data, "classeur.xlsx", scope).validate()
    db.session.rollback()
    return (result.problem, {s: dict(c) for s, c in result.counts.items()},
            sorted((e.sheet, e.row, e.column, e.message) for e in result.errors),
            sorted((r.sheet.name, r.row, r.status, tuple(sorted(r.changed.items())))
                   for r in result.records))


@pytest.fixture(scope="module")
def workbook(app):
    with app.app_context():
        return _workbook()


@pytest.mark.parametrize("who", ["national", "calvados"])
def test_small_chunks_give_the_same_preview(app, workbook, monkeypatch, who):
    with app.app_context():
        scope = NATIONAL if who == "national" else user_scope("calvados")[0]
        whole = _outcome(workbook, scope)
        monkeypatch.setattr(pipeline, "CHUNK_RECORDS", 7)
        chunked = _outcome(workbook, scope)
    assert chunked == whole
    problem, counts, errors, records = whole
    assert problem is None and counts["Places"]["updated"] > 3
    duplicates = [e for e in errors if "clé en double" in e[3]]
    assert [e[0] for e in duplicates] == ["Places"]
    assert duplicates[0][3] == "clé en double dans le fichier : déjà ligne 5"
    if who == "calvados":
        assert any("hors de votre périmètre" in e[3] for e in errors)
    else:
        assert len(errors) == 1 and len(records) == counts["Places"]["updated"] + 1


def _late_formula(data: bytes) -> bytes:
    """The workbook with a formula in the last Activité row: that sheet is not plain after all."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book["Activité"]
    ws.cell(ws.max_row, 3).value = "=1+1"   # a number of the month, as a formula without value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("who", ["national", "calvados"])
def test_large_sheets_streamed_without_a_measure_give_the_same_preview(app, workbook, monkeypatch, who):
    """Every sheet taken as large (``reader.WHOLE_BYTES``): a preview streams them without
    measuring them first (each sheet's markup inflated once) and gives what the measured reading
    gives; a sheet found not plain past its head (a formula in its last row) makes the preview
    start over, measured first: the same outcome as a reading measured from the start."""
    from imports import prescan, reader

    measured, real = [], prescan._measure_sheet

    def spy(data, path, name, *args):
        measured.append(name)
        return real(data, path, name, *args)

    with app.app_context():
        scope = NATIONAL if who == "national" else user_scope("calvados")[0]
        small = _outcome(workbook, scope)
        monkeypatch.setattr(prescan, "_measure_sheet", spy)
        monkeypatch.setattr(reader, "WHOLE_BYTES", 0)
        monkeypatch.setattr(prescan, "CHUNK", 4096)    # the formula far from the head's markup
        assert _outcome(workbook, scope) == small
        assert measured == []
        late = _late_formula(workbook)
        streamed = _outcome(late, scope)
        assert "Activité" in measured                  # read again, measured first
        monkeypatch.setattr(ImportCommand, "__init__", _measuring(ImportCommand.__init__))
        assert streamed == _outcome(late, scope)
    assert ("Activité", "formule sans valeur calculée") in {(e[0], e[3][:29]) for e in streamed[2]}


def _measuring(init):
    """``ImportCommand.__init__`` reading every file measured first (as the start-over does)."""
    def measuring(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.measure_first = True
    return measuring
