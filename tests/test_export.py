"""Exports: formatted, formula-safe workbooks; the Exporter button gives the view's exact rows."""
from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def workbook(app, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "classeur.xlsx"
    result = run_cli(app, "bhasile", "export", str(path))
    assert result.exit_code == 0, result.output
    return openpyxl.load_workbook(path)


def test_every_sheet_with_its_canonical_headers(workbook):
    from app.sheets import SHEETS
    from app.sheets.fingerprint import LABEL

    for sheet in SHEETS:
        ws = workbook[sheet.name]   # each row's fingerprint last (tests/test_import_fingerprint.py)
        assert [c.value for c in ws[1]] == [c.label for c in sheet.columns] + [LABEL]
        assert ws["A1"].font.b
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref.startswith("A1:")


def test_codes_are_text_and_dates_are_dates(workbook):
    ws = workbook["Structures"]
    postal = [row[7] for row in ws.iter_rows(min_row=2, values_only=True) if row[5] == "01"]
    assert postal and all(isinstance(p, str) and p.startswith("01") for p in postal)
    departements = {row[5] for row in ws.iter_rows(min_row=2, values_only=True)}
    assert "2A" in departements and "01" in departements
    created = ws["L2"]
    assert isinstance(created.value, dt.datetime) and created.number_format == "dd/mm/yyyy"
    assert workbook["Activité"]["B2"].number_format == "mm/yyyy"
    assert workbook["Structures"]["N2"].value in ("Oui", "Non")


def test_hidden_metadata_sheet(workbook):
    meta = workbook["_bhasile"]
    assert meta.sheet_state == "hidden"
    values = {row[0]: row[1] for row in meta.iter_rows(values_only=True)}
    assert values["schema_version"] == "1" and values["export_date"]


def test_text_that_looks_like_a_formula_stays_text(fresh_app, tmp_path):
    tricky = ["=1+1", "+33 6 12", "-moins", "@SOMME(A1)", "\tTabulation"]
    with fresh_app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from models import Structure

        structures = db.session.scalars(select(Structure).order_by(Structure.code_dna).limit(5)).all()
        for structure, text in zip(structures, tricky):
            structure.notes = text
        db.session.commit()
    path = tmp_path / "s.xlsx"
    assert run_cli(fresh_app, "bhasile", "export", str(path), "--sheet", "Structures").exit_code == 0
    ws = openpyxl.load_workbook(path)["Structures"]
    notes = [ws.cell(r, 22) for r in range(2, 7)]
    assert [c.value for c in notes] == tricky
    assert all(c.data_type == "s" for c in notes)
    result = run_cli(fresh_app, "bhasile", "import", str(path), "--dry-run", "--json")
    assert result.exit_code == 0 and '"changes": []' in result.output


def test_cli_options_limit_sheets_and_territory(app, tmp_path):
    path = tmp_path / "calvados.xlsx"
    result = run_cli(app, "bhasile", "export", str(path), "--sheet", "Structures", "--sheet", "Places",
                     "--departement", "14")
    assert result.exit_code == 0
    book = openpyxl.load_workbook(path)
    assert [n for n in book.sheetnames if not n.startswith("_")] == ["Structures", "Places"]
    assert {r[5] for r in book["Structures"].iter_rows(min_row=2, values_only=True)} == {"14"}
    assert run_cli(app, "bhasile", "export", str(path), "--region", "99").exit_code == 2


def test_agent_export_holds_only_their_territory(app, tmp_path):
    path = tmp_path / "normandie.xlsx"
    assert run_cli(app, "bhasile", "export", str(path), "--user", "normandie").exit_code == 0
    book = openpyxl.load_workbook(path)
    deps = {r[5] for r in book["Structures"].iter_rows(min_row=2, values_only=True)}
    assert deps == {"14", "27", "50", "61", "76"}
    codes = {r[0] for r in book["Structures"].iter_rows(min_row=2, values_only=True)}
    assert {r[0] for r in book["Places"].iter_rows(min_row=2, values_only=True)} <= codes
    assert {r[1] for r in book["Adresses"].iter_rows(min_row=2, values_only=True)} <= codes
    for row in book["Conventions"].iter_rows(min_row=2, values_only=True):
        assert set(row[7].split(", ")) & codes


def test_exporter_button_exports_the_views_rows(login):
    client = login("calvados")
    page = client.get("/placesanneeview/list/?_flt_0_annee=2024"
                      "&_oc_PlacesAnneeView=places_autorisees&_od_PlacesAnneeView=desc")
    html = page.get_data(as_text=True)
    link = re.search(r'href="(/exporter/vue/PlacesAnneeView/[^"]*)"', html)
    assert link, "no Exporter button on the list"
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    rows = list(book["Places"].iter_rows(min_row=2, values_only=True))
    assert rows and {r[1] for r in rows} == {2024}
    assert all(code[1:3] == "14" for code, *_ in rows)  # the Calvados agent's structures only
    places = [r[2] for r in rows]
    assert places == sorted(places, reverse=True)
    count = re.search(r"(\d+)</strong>|Nombre de lignes\s*:\s*(\d+)|Record Count:\s*(\d+)", html)
    if count:
        assert len(rows) == int(next(g for g in count.groups() if g))
    meta = {r[0]: r[1] for r in book["_bhasile"].iter_rows(values_only=True)}
    assert meta["user"] == "calvados" and "2024" in meta["filters"]


def test_exporter_on_a_view_without_a_canonical_sheet(login, app):
    with app.app_context():
        names = [v.__class__.__name__ for v in app.appbuilder.baseviews
                 if v.__class__.__name__ in ("ContactView", "ControleView", "EigView")]
    if not names:
        pytest.skip("no such list view registered")
    response = login("calvados").get(f"/exporter/vue/{names[0]}/")
    assert response.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0].max_row >= 1


def test_reader_downloads_the_full_workbook(login):
    """The national workbook (over 20,000 rows) is written in the background, then downloaded."""
    from tests.test_export_background import _follow

    client = login("lecteur")
    done = _follow(client, client.get("/exporter/classeur.xlsx"))[-1]
    assert done["status"] == "termine" and done["rows_done"] > 20000
    response = client.get(done["download_url"])
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    assert "Structures" in book.sheetnames


def test_unknown_view_is_not_found(login):
    assert login("calvados").get("/exporter/vue/NoSuchView/").status_code == 404
