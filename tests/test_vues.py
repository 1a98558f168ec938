"""Saved views (issue #17 item 8): who lists, opens, changes and exports which view, and every
refusal (French message, nothing written, never a 500; out of scope = 404)."""
from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook

from tests.conftest import client_for

LIST = "liste:StructureView"


@pytest.fixture()
def app_(fresh_app):
    return fresh_app


def _create(client, **body):
    body = {"page": LIST, "nom": "Mes CADA", "etat": {"args": [["type", "CADA"]]}, **body}
    return client.post("/vues/", json=body)


def _count(application) -> int:
    from app.extensions import db
    from models import VueEnregistree

    with application.app_context():
        n = db.session.query(VueEnregistree).count()
        db.session.remove()
    return n


def test_create_open_list_and_export(app_):
    calvados = client_for(app_, "calvados")
    response = _create(calvados, etat={"args": [["type", "CADA"], ["sort", "nom"], ["page", "3"]],
                                       "colonnes": ["code_dna", "type", "places_latest"]})
    assert response.status_code == 201, response.get_json()
    vue = response.get_json()["vue"]
    stored = calvados.get(f"/vues/{vue['id']}/etat").get_json()["etat"]
    assert stored == {"args": [["type", "CADA"], ["sort", "nom"]],
                      "colonnes": ["code_dna", "type", "places_latest"]}   # no page number
    page = calvados.get(vue["url"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Mes CADA" in html
    assert "Bâti" not in html.split("<thead>")[1].split("</thead>")[0]   # hidden column
    export = calvados.get(f"/vues/{vue['id']}/exporter", follow_redirects=True)
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.data)).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert "Bâti" not in header and "Places autorisées (dernière année)" in header
    types = {row[header.index("Type")] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0]}
    assert types == {"CADA"}
    listed = calvados.get(f"/vues/page/{LIST}").get_json()["vues"]
    assert [v["nom"] for v in listed] == ["Mes CADA"]


def test_shared_view_reaches_the_territory_only_and_keeps_each_scope(app_):
    calvados = client_for(app_, "calvados")
    vue = _create(calvados, nom="Partagée", partagee=True).get_json()["vue"]
    normandie, operateur = client_for(app_, "normandie"), client_for(app_, "operateur")
    assert "Partagée" in [v["nom"] for v in normandie.get(f"/vues/page/{LIST}").get_json()["vues"]]
    assert normandie.get(f"/vues/{vue['id']}/etat").status_code == 200
    # the opérateur is outside the Calvados territory: 404, nothing said of the view
    assert operateur.get(f"/vues/page/{LIST}").get_json()["vues"] == []
    assert operateur.get(f"/vues/{vue['id']}/etat").status_code == 404
    # a national user reopening it sees the whole nation's CADA, an agent only theirs
    assert client_for(app_, "centrale").get(f"/vues/{vue['id']}/etat").status_code == 200


def test_refusals_write_nothing(app_):
    calvados = client_for(app_, "calvados")
    vue = _create(calvados).get_json()["vue"]
    before = _count(app_)
    normandie = client_for(app_, "normandie")
    # someone else's view (not shared: not even seen)
    assert normandie.post(f"/vues/{vue['id']}", json={"nom": "x"}).status_code == 404
    assert normandie.post(f"/vues/{vue['id']}/supprimer", json={}).status_code == 404
    # shared with them: seen, still not theirs to change
    calvados.post(f"/vues/{vue['id']}", json={"partagee": True})
    refused = normandie.post(f"/vues/{vue['id']}", json={"nom": "x"})
    assert refused.status_code == 404 and "introuvable" in refused.get_json()["message"]
    assert client_for(app_, "admin").post(f"/vues/{vue['id']}/supprimer", json={}).status_code == 404
    # sharing with another territory
    from app.extensions import db
    from models import Departement

    with app_.app_context():
        orne = db.session.query(Departement).filter_by(code="75").one().id
        db.session.remove()
    refused = _create(calvados, partagee=True, departement_id=orne)
    assert refused.status_code == 422 and "périmètre" in refused.get_json()["message"]
    # a role default by a non-administrator
    refused = _create(calvados, role_defaut="Agent départemental")
    assert refused.status_code == 403 and "administrateur" in refused.get_json()["message"]
    # malformed, oversized, unknown page, unknown filter or column, no name
    assert _create(calvados, etat="pas un objet").status_code == 422
    assert _create(calvados, etat={"args": "x"}).status_code == 422
    assert _create(calvados, etat={"args": [["_flt_0_id", "1"]]}).status_code == 422
    assert _create(calvados, etat={"args": [], "colonnes": ["mot_de_passe"]}).status_code == 422
    assert _create(calvados, etat={"args": [], "x": "x" * 20000}).status_code == 413
    assert _create(calvados, etat={"args": [["q", "x"]] * 81}).status_code == 422
    assert _create(calvados, page="liste:Inconnue").status_code == 404
    assert _create(calvados, page="liste:UserDBModelView").status_code == 404
    assert _create(calvados, nom="  ").status_code == 422
    assert _create(calvados, nom=12).status_code == 422
    assert _create(calvados, partagee="oui").status_code == 422
    assert _create(calvados, role_defaut=["x"]).status_code == 422
    assert _create(calvados, partagee=True, departement_id="abc").status_code == 422
    admin = client_for(app_, "admin")
    assert _create(admin, partagee=True, departement_id=10**9).status_code == 422
    assert _create(admin, partagee=True, region_id=True).status_code == 422
    assert calvados.post("/vues/", data="{", content_type="application/json").status_code == 400
    # no CSRF token on the AJAX write
    calvados.environ_base.pop("HTTP_X_CSRFTOKEN")
    assert _create(calvados).status_code == 400
    assert _count(app_) == before


def test_role_default_applies_to_a_bare_page(app_):
    admin = client_for(app_, "admin")
    response = _create(admin, nom="Départ", role_defaut="Agent départemental",
                       etat={"args": [["type", "HUDA"]]})
    assert response.status_code == 201, response.get_json()
    vue = response.get_json()["vue"]
    calvados = client_for(app_, "calvados")
    bare = calvados.get("/structureview/list/")
    assert bare.status_code == 302 and f"vue={vue['id']}" in bare.location and "type=HUDA" in bare.location
    assert client_for(app_, "normandie").get("/structureview/list/").status_code == 200
    # one default per role and page: a second replaces the first
    second = _create(admin, nom="Autre", role_defaut="Agent départemental").get_json()["vue"]
    first = admin.get(f"/vues/{vue['id']}/etat").get_json()["vue"]
    assert first["role_defaut"] is None and second["role_defaut"] == "Agent départemental"


def test_reader_saves_personal_views(app_):
    lecteur = client_for(app_, "lecteur")
    assert _create(lecteur).status_code == 201


def test_grid_view_state_checked_and_exported(app_):
    calvados = client_for(app_, "calvados")
    state = {"columns": [{"field": "nom", "visible": False, "width": 200}], "frozen": ["code_dna"],
             "sort": [{"field": "code_dna", "dir": "desc"}], "filters": {"type": "CADA"}, "search": ""}
    response = _create(calvados, page="grille:structures", etat=state)
    assert response.status_code == 201, response.get_json()
    vue = response.get_json()["vue"]
    assert "/grille/structures/" in vue["url"]
    bad = _create(calvados, page="grille:structures", etat={**state, "sort": [{"field": "x", "dir": "asc"}]})
    assert bad.status_code == 422
    export = calvados.get(f"/vues/{vue['id']}/exporter")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.data)).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header and not any("Nom" == h for h in header)
    codes = [r[0] for r in sheet.iter_rows(min_row=2, values_only=True) if r[0]]
    assert codes == sorted(codes, reverse=True) and codes


def test_pages_of_their_own_have_saved_views(app_):
    admin = client_for(app_, "admin")
    journal = _create(admin, page="liste:JournalView", nom="Imports", etat={"args": [["origin", "import"]]})
    assert journal.status_code == 201, journal.get_json()
    vue = journal.get_json()["vue"]
    assert "/journal/list/?origin=import" in vue["url"]
    assert admin.get(vue["url"]).status_code == 200
    assert "/journal/export/" in admin.get(f"/vues/{vue['id']}/exporter").location
    assert _create(admin, page="liste:JournalView", etat={"args": [["_flt_0_x", "1"]]}).status_code == 422
    calvados = client_for(app_, "calvados")
    documents = _create(calvados, page="liste:DocumentView", etat={"args": [["categorie", "RAPPORT"]]})
    assert documents.status_code == 201, documents.get_json()
    assert documents.get_json()["vue"]["export"] is None
    page = calvados.get(documents.get_json()["vue"]["url"]).get_data(as_text=True)
    assert 'id="bh-vues"' in page and "bh-vues-exporter" not in page
    # the journal is hidden from an agent: no view of it
    assert _create(calvados, page="liste:JournalView").status_code == 404
