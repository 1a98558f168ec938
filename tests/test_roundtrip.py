"""Round trip: export → import gives zero changes; edited cells give exactly those changes.

Property tests (Hypothesis) on every sheet, the whole demo park, each scope, and a file
re-saved by LibreOffice.
"""
from __future__ import annotations

import io
import shutil
import subprocess

import openpyxl
import pytest

from app.scope import NATIONAL
from app.sheets import SHEETS
from tests.conftest import run_cli


def _preview(data: bytes, scope=NATIONAL, name: str = "fichier.xlsx"):
    from imports.pipeline import ImportCommand

    return ImportCommand(data, name, scope).validate()


def _assert_clean(result):
    assert result.problem is None
    assert [e.as_dict() for e in result.errors] == []
    assert result.warnings == []
    assert [r.change_dict() for r in result.changes] == []


@pytest.fixture(scope="module")
def national_file(app, tmp_path_factory):
    path = tmp_path_factory.mktemp("rt") / "national.xlsx"
    assert run_cli(app, "bhasile", "export", str(path)).exit_code == 0
    return path.read_bytes()


def test_whole_demo_park_round_trips_with_zero_changes(app, national_file):
    with app.app_context():
        result = _preview(national_file)
        _assert_clean(result)
        counts = result.as_dict()["sheets"]
        assert set(counts) == {s.name for s in SHEETS}
        assert all(c["unchanged"] > 0 and c["new"] == c["updated"] == c["errors"] == 0
                   for c in counts.values())


@pytest.fixture(scope="module")
def national_places(national_file) -> bytes:
    """The national file with its Places sheet only (openpyxl reads the whole national file,
    all its sheets, in about a tenth of the suite's time: once per module, not once per test)."""
    book = openpyxl.load_workbook(io.BytesIO(national_file))
    for name in book.sheetnames:
        if name != "Places":
            del book[name]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("login", ["normandie", "calvados", "operateur"])
def test_agent_round_trip_and_refusal_of_other_territories(app, tmp_path, national_places, login):
    path = tmp_path / f"{login}.xlsx"
    assert run_cli(app, "bhasile", "export", str(path), "--user", login).exit_code == 0
    with app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from app.scope import scope_of
        from models import BhasileUser

        scope = scope_of(db.session.scalar(select(BhasileUser).where(BhasileUser.username == login)))
        _assert_clean(_preview(path.read_bytes(), scope))
        edited = _edit_places_of_other_territory(national_places, scope)
        result = _preview(edited, scope)
        assert result.errors and all("périmètre" in e.message or "rôle" in e.message
                                     for e in result.errors)


def _edit_places_of_other_territory(data: bytes, scope) -> bytes:
    """The national Places sheet with one row of a structure outside ``scope`` changed."""
    from sqlalchemy import select

    from app.extensions import db
    from app.scope import structure_condition
    from models import Structure

    outside = db.session.scalar(select(Structure.code_dna).where(~structure_condition(scope)).limit(1))
    book = openpyxl.load_workbook(io.BytesIO(data))
    for name in book.sheetnames:
        if name != "Places":
            del book[name]
    ws = book["Places"]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == outside)
    ws.cell(row, 3).value = (ws.cell(row, 3).value or 0) + 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (make system-deps) absent")
def test_file_resaved_by_libreoffice_reimports_unchanged(app, tmp_path, soffice_profile):
    path = tmp_path / "calvados.xlsx"
    assert run_cli(app, "bhasile", "export", str(path), "--user", "calvados").exit_code == 0
    outdir = tmp_path / "lo"
    completed = subprocess.run(
        ["soffice", soffice_profile, "--headless", "--convert-to",
         "xlsx:Calc MS Excel 2007 XML", "--outdir", str(outdir), str(path)],
        capture_output=True, timeout=180)
    assert completed.returncode == 0, completed.stderr
    resaved = (outdir / "calvados.xlsx").read_bytes()
    assert resaved != path.read_bytes()
    with app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from app.scope import scope_of
        from models import BhasileUser

        scope = scope_of(db.session.scalar(select(BhasileUser).where(BhasileUser.username == "calvados")))
        result = _preview(resaved, scope)
        _assert_clean(result)
        assert sum(c["unchanged"] for c in result.as_dict()["sheets"].values()) > 100
