"""A field declared once: the model, its migration and one column line of the sheet schema
(``app/sheets/canonical.py``) — and the structure's « Site internet » is in the add and edit
forms, the fiche, the grid (read and saved), the export, and an edited export re-imports it."""
from __future__ import annotations

import io

import openpyxl
from sqlalchemy import select

from app.scope import NATIONAL
from models import Departement, Structure
from tests.conftest import client_for, run_cli
from tests.views_util import read_form, submit

URL = "https://www.exemple-cada.fr"


def _calvados_structure(app) -> Structure:
    with app.app_context():
        from app.extensions import db

        dep = select(Departement.id).where(Departement.code == "14").scalar_subquery()
        s = db.session.scalar(select(Structure).where(Structure.departement_id == dep).order_by(Structure.id))
        db.session.expunge_all()
        return s


def _site(app, structure_id: int):
    with app.app_context():
        from app.extensions import db

        return db.session.scalar(select(Structure.site_internet).where(Structure.id == structure_id))


def test_the_new_field_is_in_the_forms_the_fiche_and_the_grid(fresh_app):
    s = _calvados_structure(fresh_app)
    client = client_for(fresh_app, "calvados")
    add_form = read_form(client.get("/structureview/add").get_data(as_text=True))
    assert "site_internet" in add_form
    _page, answer = submit(client, f"/structureview/edit/{s.id}", {"site_internet": URL})
    assert answer.status_code == 200
    assert _site(fresh_app, s.id) == URL

    fiche = client.get(f"/structureview/show/{s.id}").get_data(as_text=True)
    assert "Site internet" in fiche and URL in fiche

    page = client.get("/grille/structures/").get_data(as_text=True)
    assert '"site_internet"' in page and "Site internet" in page
    data = client.get("/grille/structures/donnees", query_string={"size": 1000}).get_json()
    rows = [dict(zip(data["fields"], values)) for values in data["rows"]]
    row = next(r for r in rows if r["code_dna"] == s.code_dna)
    assert row["site_internet"] == URL
    saved = client.post("/grille/structures/enregistrer", json={"period": {}, "rows": [
        {"k": row["_k"], "v": row["_v"], "pv": row.get("_pv"), "values": {"site_internet": "cada.fr"}}]})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert _site(fresh_app, s.id) == "cada.fr"


def test_the_new_field_is_exported_and_an_edited_export_reimports_it(fresh_app, tmp_path):
    s = _calvados_structure(fresh_app)
    with fresh_app.app_context():
        from app.extensions import db

        db.session.get(Structure, s.id).site_internet = URL
        db.session.commit()
    path = tmp_path / "national.xlsx"
    assert run_cli(fresh_app, "bhasile", "export", str(path)).exit_code == 0
    book = openpyxl.load_workbook(path)
    sheet = book["Structures"]
    headers = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert "Site internet" in headers
    col = headers.index("Site internet")
    code_col = headers.index("Code DNA")
    row = next(r for r in sheet.iter_rows(min_row=2) if r[code_col].value == s.code_dna)
    assert row[col].value == URL

    with fresh_app.app_context():
        from imports.pipeline import ImportCommand

        unchanged = ImportCommand(path.read_bytes(), "national.xlsx", NATIONAL).validate()
        assert [r.change_dict() for r in unchanged.changes] == []

        row[col].value = "https://nouveau.exemple.fr"
        out = io.BytesIO()
        book.save(out)
        result = ImportCommand(out.getvalue(), "national.xlsx", NATIONAL).validate()
        assert result.problem is None and [e.as_dict() for e in result.errors] == []
        changes = [r.change_dict() for r in result.changes]
        assert len(changes) == 1 and "https://nouveau.exemple.fr" in str(changes[0])
    edited = tmp_path / "modifie.xlsx"
    edited.write_bytes(out.getvalue())
    applied = run_cli(fresh_app, "bhasile", "import", str(edited), "--user", "admin")
    assert applied.exit_code == 0, applied.output
    assert _site(fresh_app, s.id) == "https://nouveau.exemple.fr"


def test_the_yearly_and_monthly_forms_and_api_show_every_column_of_their_sheet(fresh_app):
    """Places, Budgets and Activité take their fields from their sheet, as the structure does:
    every column of the sheet (but the structure's code) is in the add form, with its label,
    and in the API's record."""
    from app.sheets.canonical import ACTIVITE, BUDGETS, PLACES

    client = client_for(fresh_app, "calvados")
    for view, api, sheet in (("placesanneeview", "places", PLACES), ("budgetanneeview", "budget", BUDGETS),
                             ("activiteview", "activite", ACTIVITE)):
        page = client.get(f"/{view}/add").get_data(as_text=True)
        form = read_form(page)
        listed = client.get(f"/api/v1/{api}/", query_string={"q": '(page_size:1)'}).get_json()
        columns = [c for c in sheet.columns if c.field != "code_dna"]
        assert columns
        for column in columns:
            assert column.field in form, (view, column.field)
            assert column.label in page, (view, column.label)
            assert column.field in listed["list_columns"], (api, column.field)


def test_the_address_operator_and_convention_forms_show_every_column_of_their_sheet(fresh_app):
    """Adresses (the address and its yearly row), Opérateurs and Conventions take their form
    fields from their sheet too: every written column is in the add form (the structure's code
    stands as « structure », the CPOM's codes DNA as the structures it covers)."""
    from app.sheets.canonical import ADRESSES, CONVENTIONS, OPERATEURS

    client = client_for(fresh_app, "admin")
    cases = (("adresseview", ADRESSES, "parent"), ("adresseanneeview", ADRESSES, "row"),
             ("operateurview", OPERATEURS, "row"), ("conventionview", CONVENTIONS, "row"))
    for view, sheet, target in cases:
        response = client.get(f"/{view}/add")
        assert response.status_code == 200, view
        page = response.get_data(as_text=True)
        columns = [c for c in sheet.columns if c.target == target and not c.read_only
                   and c.field != "code_dna" and c.expr is not None]
        assert columns, view
        for column in columns:   # an unticked checkbox is not among the form's values: its name
            assert f'name="{column.field}"' in page, (view, column.field)
