"""Accounts the administrator cannot get wrong: each role with its territory and only its kind,
French help on the user forms, « Droits par territoire » with bulk changes all or nothing, and
every change of roles or territories in the history."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from app.comptes import territory_errors
from models import BhasileUser, Changement, Departement, Operateur, Region
from tests import dbutil
from tests.conftest import Auth, client_for
from tests.grid_helpers import query
from tests.views_util import submit


def _ids(app) -> dict:
    def read(session):
        from flask import current_app

        sm = current_app.appbuilder.sm
        return {"regional": sm.find_role("Agent régional").id,
                "departemental": sm.find_role("Agent départemental").id,
                "operateur": sm.find_role("Opérateur").id, "centrale": sm.find_role("Administration centrale").id,
                "normandie": session.scalar(select(Region.id).where(Region.code == "28")),
                "bretagne": session.scalar(select(Region.id).where(Region.code == "53")),
                "calvados": session.scalar(select(Departement.id).where(Departement.code == "14")),
                "op": session.scalar(select(Operateur.id).order_by(Operateur.id))}
    return query(app, read)


def _new_account(client, **fields):
    base = {"first_name": "Agnès", "last_name": "Martin", "username": "agnes.martin",
            "email": "agnes.martin@interieur.gouv.fr", "password": dbutil.PASSWORD,
            "conf_password": dbutil.PASSWORD}
    _page, response = submit(client, "/users/add", {**base, **fields})
    return unescape(response.get_data(as_text=True))


def _exists(app, login: str) -> bool:
    return query(app, lambda s: s.scalar(select(BhasileUser.id).where(BhasileUser.username == login))) is not None


def _error_under(page: str, field: str) -> str:
    """The error text the form shows under ``field`` (``<p id="<field>-error">``)."""
    found = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>|\s+", " ", found[1]).strip() if found else ""


@pytest.mark.parametrize("fields, field, message", [
    (lambda i: {"roles": [str(i["regional"])]}, "regions", "Un agent régional doit avoir au moins une région."),
    (lambda i: {"roles": [str(i["departemental"])], "departements": [str(i["calvados"])],
                "regions": [str(i["normandie"])]}, "regions", "Un agent départemental n'a pas de région"),
    (lambda i: {"roles": [str(i["departemental"])]}, "departements",
     "Un agent départemental doit avoir au moins un département."),
    (lambda i: {"roles": [str(i["operateur"])]}, "operateur", "Un compte opérateur doit avoir son opérateur."),
    (lambda i: {"roles": [str(i["centrale"])], "regions": [str(i["normandie"])]}, "regions",
     "Un rôle national voit tout le territoire"),
])
def test_an_account_without_the_territory_of_its_role_is_refused_on_the_field(fresh_app, fields, field, message):
    admin = client_for(fresh_app, "admin")
    page = _new_account(admin, **fields(_ids(fresh_app)))
    assert message in page
    assert message in _error_under(page, field)
    assert not _exists(fresh_app, "agnes.martin")


def test_a_consistent_account_is_created_and_its_roles_go_to_the_history(fresh_app):
    ids = _ids(fresh_app)
    admin = client_for(fresh_app, "admin")
    _new_account(admin, roles=[str(ids["regional"])], regions=[str(ids["normandie"])])
    assert _exists(fresh_app, "agnes.martin")
    rows = query(fresh_app, lambda s: s.execute(select(Changement.field, Changement.new_value, Changement.username)
                                                .where(Changement.entity == "ab_user",
                                                       Changement.key == "agnes.martin")).all())
    assert {(r.field, r.new_value, r.username) for r in rows} == {
        ("roles", "Agent régional", "admin"), ("regions", "Normandie", "admin")}


def test_the_rule_of_each_role():
    assert territory_errors(["Agent régional"], True, False, False) == {}
    assert territory_errors(["Agent départemental"], False, True, False) == {}
    assert territory_errors(["Opérateur"], False, False, True) == {}
    assert territory_errors(["Administrateur"], False, False, False) == {}
    assert territory_errors(["Lecteur"], True, False, False) == {}
    assert set(territory_errors(["Agent régional"], True, True, False)) == {"departements"}
    assert set(territory_errors(["Lecteur"], False, False, True)) == {"operateur"}
    assert set(territory_errors(["Agent régional", "Opérateur"], True, False, True)) == {"roles"}
    assert set(territory_errors([], False, False, False)) == {"roles"}


def test_user_forms_help_is_french(fresh_app):
    admin = client_for(fresh_app, "admin")
    uid = query(fresh_app, lambda s: s.scalar(select(BhasileUser.id).where(BhasileUser.username == "normandie")))
    for path in ("/users/add", f"/users/edit/{uid}"):
        page = admin.get(path).get_data(as_text=True)
        hints = re.findall(r'class="fr-hint-text"[^>]*>([^<]+)<', page)
        assert len(hints) >= 6
        for english in ("Write the user", "The user's", "It's not a good policy", "The user role"):
            assert english not in page, (path, english)


def _agents(app, *logins: str) -> dict[str, int]:
    with app.app_context():
        from app.cli import create_or_update_user
        from app.extensions import db
        from models.enums import Role

        for login in logins:
            create_or_update_user(login, Role.REGIONAL, dbutil.PASSWORD, regions=("53",))
        found = dict(db.session.execute(select(BhasileUser.username, BhasileUser.id)
                                        .where(BhasileUser.username.in_(logins))).all())
        db.session.remove()
        return found


def _regions(app, login: str) -> set[str]:
    return query(app, lambda s: {r.code for r in s.scalar(select(BhasileUser).where(
        BhasileUser.username == login)).regions})


def test_droits_par_territoire_adds_several_agents_at_once_and_writes_the_history(fresh_app):
    agents = _agents(fresh_app, "agent.a", "agent.b")
    admin = client_for(fresh_app, "admin")
    page = admin.get("/droits/region/28/").get_data(as_text=True)
    assert "Normandie Agent régional" in page and "Calvados Agent départemental" in page
    token = Auth(admin).csrf("/droits/region/28/")
    response = admin.post("/droits/region/28/modifier", data={
        "csrf_token": token, "ajouter": [str(agents["agent.a"]), str(agents["agent.b"])]}, follow_redirects=True)
    assert "2 agent(s) ajouté(s)" in unescape(response.get_data(as_text=True))
    assert _regions(fresh_app, "agent.a") == _regions(fresh_app, "agent.b") == {"28", "53"}
    journal = unescape(admin.get("/journal/list/?entity=ab_user&origin=droits").get_data(as_text=True))
    assert journal.count("Compte agent.a") == 1 and "Compte agent.b" in journal
    assert "Bretagne → Bretagne, Normandie" in journal and "droits par territoire" in journal


def test_a_bulk_change_is_all_or_nothing(fresh_app):
    agents = _agents(fresh_app, "agent.c")
    admin = client_for(fresh_app, "admin")
    normandie = query(fresh_app, lambda s: s.scalar(select(BhasileUser.id).where(BhasileUser.username == "normandie")))
    token = Auth(admin).csrf("/droits/region/28/")
    # normandie's only région may not be taken away: agent.c is not added either
    response = admin.post("/droits/region/28/modifier", data={
        "csrf_token": token, "ajouter": [str(agents["agent.c"])], "retirer": [str(normandie)]},
        follow_redirects=True)
    page = unescape(response.get_data(as_text=True))
    assert "Rien n'a été modifié" in page and "normandie : Un agent régional doit avoir au moins une région." in page
    assert _regions(fresh_app, "agent.c") == {"53"} and _regions(fresh_app, "normandie") == {"28"}
    # an id that is no agent of this kind, and a forged request without token: nothing either
    calvados = query(fresh_app, lambda s: s.scalar(select(BhasileUser.id).where(BhasileUser.username == "calvados")))
    response = admin.post("/droits/region/28/modifier", data={
        "csrf_token": token, "ajouter": [str(agents["agent.c"]), str(calvados), "x"]}, follow_redirects=True)
    assert "Rien n'a été modifié" in unescape(response.get_data(as_text=True))
    admin.environ_base.pop("HTTP_X_CSRFTOKEN", None)
    admin.post("/droits/region/28/modifier", data={"ajouter": [str(agents["agent.c"])]})
    assert _regions(fresh_app, "agent.c") == {"53"}


@pytest.mark.parametrize("login", ["centrale", "normandie", "calvados", "lecteur", "operateur"])
def test_droits_par_territoire_is_for_administrators_only(app, login):
    client = client_for(app, login)
    assert client.get("/droits/").status_code in (302, 403)
    assert client.get("/droits/region/28/").status_code in (302, 403)
    assert client.post("/droits/region/28/modifier", data={"ajouter": ["1"]}).status_code in (302, 400, 403)


def test_an_unknown_territory_is_404(fresh_app):
    assert client_for(fresh_app, "admin").get("/droits/region/99/").status_code == 404
    assert client_for(fresh_app, "admin").get("/droits/pays/28/").status_code == 404
