"""The Imports page: upload → preview → annotated file → apply; batches kept with their file."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest

from tests.conftest import SAMPLES, Auth, client_for


def _upload(client, data: bytes, name: str, year: str = ""):
    token = Auth(client).csrf("/imports/")
    return client.post("/imports/envoyer", data={"csrf_token": token, "annee": year,
                                                 "fichier": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", follow_redirects=False)


def _batch_id(response) -> int:
    return int(re.search(r"/imports/(\d+)/", response.headers["Location"]).group(1))


@pytest.fixture()
def agent(fresh_app):
    return client_for(fresh_app, "normandie")


def test_preview_then_apply(fresh_app, agent):
    response = _upload(agent, (SAMPLES / "classeur-exemple.xlsx").read_bytes(), "classeur-exemple.xlsx")
    assert response.status_code == 302
    batch = _batch_id(response)
    page = agent.get(f"/imports/{batch}/").get_data(as_text=True)
    assert "Lignes par feuille" in page and "Appliquer l" in page
    assert "Horizon Accueil" in page  # a new opérateur in the diff
    token = Auth(agent).csrf(f"/imports/{batch}/")
    done = agent.post(f"/imports/{batch}/appliquer", data={"csrf_token": token}, follow_redirects=True)
    assert "Import appliqué" in done.get_data(as_text=True)
    listing = agent.get("/imports/").get_data(as_text=True)
    assert "classeur-exemple.xlsx" in listing and "appliqué" in listing
    original = agent.get(f"/imports/{batch}/original")
    assert original.data == (SAMPLES / "classeur-exemple.xlsx").read_bytes()


def test_apply_needs_csrf(agent):
    batch = _batch_id(_upload(agent, (SAMPLES / "classeur-exemple.xlsx").read_bytes(), "c.xlsx"))
    response = agent.post(f"/imports/{batch}/appliquer", data={})
    assert response.status_code in (302, 400)
    page = agent.get("/imports/").get_data(as_text=True)
    assert "aperçu, à valider" in page


def test_annotated_file_marks_error_cells(agent):
    batch = _batch_id(_upload(agent, (SAMPLES / "erreurs-exemple.xlsx").read_bytes(), "erreurs.xlsx"))
    page = agent.get(f"/imports/{batch}/").get_data(as_text=True)
    assert "beaucoup" in page and "Appliquer" not in page
    response = agent.get(f"/imports/{batch}/annote")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[0] == "Erreurs"
    cell = book["Places"]["C3"]
    assert cell.fill.start_color.rgb.endswith("FFC7CE")
    assert "nombre" in cell.comment.text
    assert book["Erreurs"].max_row > 10


def test_stale_rows_refuse_the_apply(fresh_app, agent):
    rows = [["Code DNA", "Année", "Places autorisées", "PMR"], ["C1401", 2025, 77, 1]]
    book = openpyxl.Workbook()
    book.active.title = "Places"
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    batch = _batch_id(_upload(agent, out.getvalue(), "places.xlsx"))
    with fresh_app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from models import PlacesAnnee, Structure

        places = db.session.scalar(select(PlacesAnnee).join(Structure).where(
            Structure.code_dna == "C1401", PlacesAnnee.annee == 2025))
        places.pmr = 2  # someone else edits the row after the preview
        db.session.commit()
    token = Auth(agent).csrf(f"/imports/{batch}/")
    page = agent.post(f"/imports/{batch}/appliquer", data={"csrf_token": token},
                      follow_redirects=True).get_data(as_text=True)
    assert "modifiées depuis l&#39;aperçu" in page and "C1401" in page
    with fresh_app.app_context():
        assert db.session.scalar(select(PlacesAnnee.places_autorisees).join(Structure).where(
            Structure.code_dna == "C1401", PlacesAnnee.annee == 2025)) != 77


def test_year_field_for_wide_sheets(agent):
    book = openpyxl.Workbook()
    book.active.title = "Suivi"
    for row in [["N° DNA", "Gestionnaire", "Dépt", "Places autorisées"], ["C1401", None, "14", 80]]:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    batch = _batch_id(_upload(agent, out.getvalue(), "suivi.xlsx", year="2024"))
    page = agent.get(f"/imports/{batch}/").get_data(as_text=True)
    assert "C1401 / 2024" in page


def test_oversize_upload_gets_a_french_page(fresh_app):
    fresh_app.config["MAX_CONTENT_LENGTH"] = 50_000
    client = client_for(fresh_app, "normandie")
    response = _upload(client, b"x" * 100_000, "gros.xlsx")
    assert response.status_code == 413
    assert "Fichier trop volumineux" in response.get_data(as_text=True)


def test_templates_have_every_sheet_and_drop_downs(login):
    response = login("calvados").get("/imports/modele.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[:1] == ["Instructions"]
    for name in ("Structures", "Places", "Budgets", "Activité", "Adresses", "Opérateurs", "Conventions"):
        assert name in book.sheetnames
    validations = book["Structures"].data_validations.dataValidation
    assert any("_listes" in (v.formula1 or "") for v in validations)


def test_batches_of_others_are_not_found(fresh_app, agent):
    batch = _batch_id(_upload(agent, (SAMPLES / "classeur-exemple.xlsx").read_bytes(), "c.xlsx"))
    other = client_for(fresh_app, "calvados")
    assert other.get(f"/imports/{batch}/").status_code == 404
    assert client_for(fresh_app, "centrale").get(f"/imports/{batch}/").status_code == 200


def test_reader_cannot_reach_imports(login):
    response = login("lecteur").get("/imports/")
    assert response.status_code in (302, 403)
