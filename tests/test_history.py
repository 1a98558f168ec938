"""The service's memory: every change recorded with who, when, field, old → new and origin;
two agents editing the same record: the second save is refused, nothing is overwritten."""
from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import select

from models import Changement, Departement, Structure
from tests.conftest import Auth, client_for
from tests.views_util import read_form, submit


def _calvados_structure(app) -> int:
    with app.app_context():
        from app.extensions import db

        dep = db.session.scalar(select(Departement.id).where(Departement.code == "14"))
        return db.session.scalar(select(Structure.id).where(Structure.departement_id == dep)
                                 .order_by(Structure.code_dna).limit(1))


def _changes(app, sid: int, field: str) -> list[Changement]:
    with app.app_context():
        from app.extensions import db

        rows = db.session.scalars(select(Changement).where(
            Changement.entity == "structure", Changement.entity_id == sid,
            Changement.field == field).order_by(Changement.id)).all()
        db.session.expunge_all()
        return rows


@pytest.fixture()
def sid(fresh_app):
    return _calvados_structure(fresh_app)


def test_a_form_edit_is_recorded_with_its_author_and_shown_on_the_fiche(fresh_app, sid):
    client = client_for(fresh_app, "calvados")
    _page, response = submit(client, f"/structureview/edit/{sid}", {"nom": "Nom corrigé"})
    assert response.status_code == 200
    row = _changes(fresh_app, sid, "nom")[-1]
    assert (row.username, row.origin, row.new_value) == ("calvados", "form", "Nom corrigé")
    fiche = client.get(f"/structureview/show/{sid}").get_data(as_text=True)
    historique = fiche[fiche.index('id="historique"'):]
    assert "Nom corrigé" in historique and row.old_value in historique
    assert "1 champ modifié par Calvados" in historique  # the author's name, not their login


def test_an_api_edit_is_recorded_as_api(fresh_app, sid):
    client = client_for(fresh_app, "normandie")
    version = client.get(f"/api/v1/structure/{sid}").get_json()["result"]["version"]
    response = client.put(f"/api/v1/structure/{sid}", json={"commune": "Caen", "version": version})
    assert response.status_code == 200, response.get_json()
    row = _changes(fresh_app, sid, "commune")[-1]
    assert (row.username, row.origin, row.new_value) == ("normandie", "api", "Caen")


def test_a_command_line_edit_is_recorded_as_cli(fresh_app, sid):
    with fresh_app.app_context():
        from app.extensions import db

        db.session.get(Structure, sid).filiale = "Filiale CLI"
        db.session.commit()
    row = _changes(fresh_app, sid, "filiale")[-1]
    assert (row.origin, row.new_value) == ("cli", "Filiale CLI")


def test_second_form_save_is_refused_and_shows_what_changed_meanwhile(fresh_app, sid):
    first, second = client_for(fresh_app, "calvados"), client_for(fresh_app, "normandie")
    path = f"/structureview/edit/{sid}"
    form_a = read_form(first.get(path).get_data(as_text=True))
    form_b = read_form(second.get(path).get_data(as_text=True))
    first.post(path, data={**form_a, "nom": "Version de Calvados"})
    answer = second.post(path, data={**form_b, "nom": "Version de Normandie"}, follow_redirects=True)
    page = answer.get_data(as_text=True)
    assert "Enregistrement refusé" in page and "Version de Calvados" in page and "calvados" in page
    assert _changes(fresh_app, sid, "nom")[-1].new_value == "Version de Calvados"
    reloaded = read_form(second.get(path).get_data(as_text=True))
    second.post(path, data={**reloaded, "nom": "Version de Normandie"})
    assert _changes(fresh_app, sid, "nom")[-1].new_value == "Version de Normandie"


def test_api_put_needs_the_current_version(fresh_app, sid):
    client = client_for(fresh_app, "calvados")
    version = client.get(f"/api/v1/structure/{sid}").get_json()["result"]["version"]
    assert client.put(f"/api/v1/structure/{sid}", json={"nom": "Sans version"}).status_code == 428
    assert client.put(f"/api/v1/structure/{sid}", json={"nom": "A", "version": version}).status_code == 200
    stale = client.put(f"/api/v1/structure/{sid}", json={"nom": "B", "version": version})
    assert stale.status_code == 409 and "A" in stale.get_json()["message"]
    ok = client.put(f"/api/v1/structure/{sid}", json={"nom": "B"},
                    headers={"If-Match": str(version + 1)})
    assert ok.status_code == 200 and _changes(fresh_app, sid, "nom")[-1].new_value == "B"


def test_journal_for_central_agents_filters_and_exports(fresh_app, sid):
    submit(client_for(fresh_app, "calvados"), f"/structureview/edit/{sid}", {"nom": "Au journal"})
    central = client_for(fresh_app, "centrale")
    page = central.get("/journal/list/?user=calvados").get_data(as_text=True)
    assert "Au journal" in page
    csv_text = central.get("/journal/export/?format=csv&user=calvados").get_data(as_text=True)
    assert "Au journal" in csv_text and "calvados" in csv_text
    xlsx = central.get("/journal/export/?user=calvados").get_data()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as book:
        assert "Au journal" in book.read("xl/sharedStrings.xml").decode()
    logins = central.get("/journal/list/?action=login").get_data(as_text=True)
    assert "Connexion — Calvados" in logins


@pytest.mark.parametrize("login", ["calvados", "normandie", "lecteur", "operateur"])
def test_journal_is_reserved_to_admins_and_central_agents(app, login):
    client = client_for(app, login)
    response = client.get("/journal/list/")
    assert response.status_code in (302, 403)
    assert "Journal des modifications" not in client.get("/").get_data(as_text=True)


def test_form_without_csrf_token_changes_nothing(fresh_app, sid):
    client = client_for(fresh_app, "calvados")
    data = read_form(client.get(f"/structureview/edit/{sid}").get_data(as_text=True))
    data.pop("csrf_token", None)
    client.environ_base.pop("HTTP_X_CSRFTOKEN", None)  # no token at all, as a forged form
    client.post(f"/structureview/edit/{sid}", data={**data, "nom": "Sans jeton"})
    assert not any(r.new_value == "Sans jeton" for r in _changes(fresh_app, sid, "nom"))
    assert Auth(client).csrf(f"/structureview/edit/{sid}")
