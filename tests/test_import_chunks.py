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
