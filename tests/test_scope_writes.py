"""Writes never take a record out of the territory; admins change a user's territory."""
from __future__ import annotations

from sqlalchemy import select

from models import BhasileUser, Departement, PlacesAnnee, Structure
from tests.conftest import client_for
from tests.views_util import submit


def _get(app, stmt):
    with app.app_context():
        from app.extensions import db

        value = db.session.scalar(stmt)
        db.session.expunge_all()
        return value


def _dep(app, code: str) -> int:
    return _get(app, select(Departement.id).where(Departement.code == code))


def _structure_in(app, code: str) -> Structure:
    return _get(app, select(Structure).where(Structure.departement_id == _dep(app, code))
                .order_by(Structure.id))


def test_agent_cannot_move_a_structure_to_another_departement(fresh_app):
    s = _structure_in(fresh_app, "14")
    paris = _dep(fresh_app, "75")
    client = client_for(fresh_app, "calvados")
    submit(client, f"/structureview/edit/{s.id}", {"departement": str(paris), "code_postal": "75001"})
    api = client.put(f"/api/v1/structure/{s.id}", json={"departement": paris, "code_postal": "75001",
                                                        "version": s.version})
    assert api.status_code == 422 and "sortirait de votre périmètre" in api.get_json()["message"]["departement"][0]
    assert _get(fresh_app, select(Structure.departement_id).where(Structure.id == s.id)) == s.departement_id


def test_agent_cannot_attach_a_year_of_places_to_a_structure_elsewhere(fresh_app):
    elsewhere = _structure_in(fresh_app, "75")
    client = client_for(fresh_app, "calvados")
    answer = client.post("/api/v1/places/", json={"structure": elsewhere.id, "annee": 2031,
                                                  "places_autorisees": 10})
    assert answer.status_code == 422 and "périmètre" in str(answer.get_json()["message"])
    page = client.get(f"/placesanneeview/add?_flt_0_structure={elsewhere.id}")
    assert elsewhere.code_dna not in page.get_data(as_text=True)
    assert _get(fresh_app, select(PlacesAnnee.id).where(PlacesAnnee.annee == 2031)) is None


def test_admin_extends_an_agents_territory_from_the_user_screen(fresh_app):
    uid = _get(fresh_app, select(BhasileUser.id).where(BhasileUser.username == "calvados"))
    manche = _structure_in(fresh_app, "50")
    agent = client_for(fresh_app, "calvados")
    assert agent.get(f"/structureview/show/{manche.id}").status_code == 404
    admin = client_for(fresh_app, "admin")
    submit(admin, f"/users/edit/{uid}", {"departements": [str(_dep(fresh_app, "14")),
                                                          str(_dep(fresh_app, "50"))]})
    assert client_for(fresh_app, "calvados").get(f"/structureview/show/{manche.id}").status_code == 200
