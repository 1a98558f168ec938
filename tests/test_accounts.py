"""Accounts: the create-user command, the six roles, French login page, scope of the list."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from tests import dbutil
from tests.conftest import Auth, client_for, run_cli


def test_login_page_is_french(app):
    page = app.test_client().get("/login/").get_data(as_text=True)
    assert "Nom d'utilisateur" in page and "Mot de passe" in page
    assert 'lang="fr"' in page or "Se connecter" in page


def test_bad_password_is_refused_and_recorded(app):
    client = app.test_client()
    page = Auth(client).login("calvados", "mauvais-mot-de-passe").get_data(as_text=True)
    assert "Structures" not in page or "Se connecter" in page
    with app.app_context():
        from app.extensions import db
        from models import Changement

        actions = db.session.scalars(select(Changement.action).where(
            Changement.key == "calvados")).all()
        assert "login_failed" in actions


@pytest.mark.parametrize("login", ["admin", "centrale", "normandie", "calvados", "lecteur", "operateur"])
def test_every_demo_account_logs_in(app, login):
    client = client_for(app, login)
    assert client.get("/structureview/list/").status_code == 200


def _count_on_list(client) -> int:
    page = client.get("/structureview/list/").get_data(as_text=True)
    match = re.search(r"Nombre de lignes\s*:?</strong>\s*(\d+)", page)
    assert match, page[:2000]
    return int(re.sub(r"\D", "", match.group(1)))


def test_list_shows_whole_park_to_central_and_only_calvados_to_its_agent(app):
    assert _count_on_list(client_for(app, "centrale")) >= 950
    calvados = client_for(app, "calvados")
    with app.app_context():
        from app.extensions import db
        from models import Departement, Structure

        dep = db.session.scalar(select(Departement).where(Departement.code == "14"))
        own = db.session.scalars(select(Structure.code_dna).where(Structure.departement_id == dep.id)).all()
        other = db.session.scalar(select(Structure).where(Structure.departement_id != dep.id).limit(1))
        other_id, other_code = other.id, other.code_dna
    assert _count_on_list(calvados) == len(own)
    assert calvados.get(f"/structureview/show/{other_id}").status_code == 404
    assert calvados.get(f"/api/v1/structure/{other_id}").status_code == 404
    page = calvados.get("/structureview/list/?psize_StructureView=100").get_data(as_text=True)
    assert other_code not in page


def test_create_user_command(app):
    result = run_cli(app, "bhasile", "create-user", "agent.gironde", "--role", "Agent départemental",
                     "--departement", "33", "--password-stdin", input="un-mot-de-passe-long\n")
    assert result.exit_code == 0, result.output
    client = app.test_client()
    Auth(client).login("agent.gironde", "un-mot-de-passe-long")
    assert client.get("/structureview/list/").status_code == 200


@pytest.mark.parametrize("args,message", [
    (["--role", "Agent départemental"], "au moins un --departement"),
    (["--role", "Agent départemental", "--departement", "99"], "département inconnu"),
    (["--role", "Opérateur"], "--operateur"),
    (["--role", "Agent régional", "--region", "00"], "région inconnue"),
])
def test_create_user_refuses_incomplete_scope(app, args, message):
    result = app.test_cli_runner().invoke(args=["bhasile", "create-user", "x", *args])
    assert result.exit_code != 0 and message in result.output


def test_short_password_is_refused(app):
    result = app.test_cli_runner().invoke(
        args=["bhasile", "create-user", "y", "--role", "Lecteur", "--password-stdin"], input="court\n")
    assert result.exit_code != 0 and "12 caractères" in result.output


# -- one password policy on every path that sets a password ----------------------------------

COMMON = "password1234"


def _role_id(application, name: str) -> int:
    with application.app_context():
        return application.appbuilder.sm.find_role(name).id


def _self_service(application, login: str, password: str) -> str:
    client = client_for(application, login)
    form = "/resetmypassword/form"
    return client.post(form, data={"password": password, "conf_password": password,
                                   "csrf_token": Auth(client).csrf(form)},
                       follow_redirects=True).get_data(as_text=True)


def _admin_reset(application, login: str, password: str) -> str:
    admin = client_for(application, "admin")
    form = f"/resetpassword/form?pk={_user_id(application, login)}"
    return admin.post(form, data={"password": password, "conf_password": password,
                                  "csrf_token": Auth(admin).csrf(form)},
                      follow_redirects=True).get_data(as_text=True)


def _admin_add(application, login: str, password: str) -> str:
    admin = client_for(application, "admin")
    return admin.post("/users/add", data={
        "first_name": "Nouvel", "last_name": "Agent", "username": login, "active": "y",
        "email": f"{login}@interieur.gouv.fr", "roles": str(_role_id(application, "Lecteur")),
        "password": password, "conf_password": password,
        "csrf_token": Auth(admin).csrf("/users/add")}, follow_redirects=True).get_data(as_text=True)


def _cli(application, login: str, password: str) -> str:
    result = application.test_cli_runner().invoke(
        args=["bhasile", "create-user", login, "--role", "Lecteur", "--password-stdin"],
        input=password + "\n")
    assert result.exit_code != 0 or "prêt" in result.output
    return result.output


PATHS = {"self_service": _self_service, "admin_reset": _admin_reset, "admin_add": _admin_add,
         "cli": _cli}


@pytest.mark.parametrize("path", PATHS)
def test_password1234_is_refused_on_every_path(app, path):
    """Finding: the reset form accepted « password1234 »."""
    login = "lecteur" if path in ("self_service", "admin_reset") else f"nouveau.{path}"
    page = unescape(PATHS[path](app, login, COMMON))
    assert "fait partie des plus courants" in page, page[-3000:]
    assert _can_log_in(app, login, dbutil.PASSWORD if login == "lecteur" else COMMON) is (
        login == "lecteur")


@pytest.mark.parametrize("path", PATHS)
def test_password_containing_the_login_is_refused_on_every_path(app, path):
    login = "lecteur" if path in ("self_service", "admin_reset") else f"agent.{path}"
    page = unescape(PATHS[path](app, login, f"{login.upper()}-de-la-prefecture-2026"))
    assert "ne doit pas contenir l'identifiant du compte" in page, page[-3000:]


def test_a_good_password_is_accepted_when_adding_a_user(fresh_app):
    page = unescape(_admin_add(fresh_app, "agent.gironde2", "la-gironde-a-velo-en-hiver"))
    assert "fait partie" not in page and "doit" not in page.split("<main")[-1][:2000]
    assert _can_log_in(fresh_app, "agent.gironde2", "la-gironde-a-velo-en-hiver")


def _can_log_in(application, login: str, password: str) -> bool:
    client = application.test_client()
    Auth(client).login(login, password)
    return client.get("/structureview/list/").status_code == 200


@pytest.mark.parametrize("password", [
    "password1234", "Password1234!", "P@ssw0rd2026", "azertyuiop12", "motdepasse2026",
    "soleil-soleil", "azertyazerty", "123456789012", "qwertyuiopas", "Bhasile2026!",
    "Prefecture-14",
])
def test_common_passwords_and_their_usual_disguises_are_refused(app, password):
    from flask_appbuilder.exceptions import PasswordComplexityValidationError

    from app.passwords import password_policy

    with app.test_request_context(), pytest.raises(PasswordComplexityValidationError,
                                                   match="plus courants"):
        password_policy(password, "quelquun")


def test_passphrases_are_accepted(app):
    from app.passwords import common_passwords, password_policy

    with app.test_request_context():
        for password in (dbutil.PASSWORD, "une-phrase-de-passe-solide", "Cheval correct pile agrafe"):
            password_policy(password, "calvados")
    assert len(common_passwords()) > 19_000


def _user_id(application, login: str) -> int:
    with application.app_context():
        return application.appbuilder.sm.find_user(username=login).id


# -- « Mon compte »: every role reads its own account, and only it ---------------------------

@pytest.mark.parametrize("login", ["operateur", "lecteur", "calvados", "normandie", "centrale",
                                   "admin"])
def test_every_role_reads_its_own_account(app, login):
    """Finding: /users/userinfo/ answered 403 to every non-administrator."""
    client = client_for(app, login)
    response = client.get("/users/userinfo/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"<dd>{login}</dd>" in page and f"{login}@bhasile.invalid" in page
    others = {"operateur", "lecteur", "calvados", "normandie", "centrale", "admin"} - {login}
    assert not [o for o in others if f"{o}@bhasile.invalid" in page or f"<dd>{o}</dd>" in page]
    assert "Périmètre" in page and "Changer mon mot de passe" in page


@pytest.mark.parametrize("login", ["operateur", "lecteur"])
def test_non_admin_reaches_no_other_account(app, login):
    client = client_for(app, login)
    other = _user_id(app, "admin")
    for url in ("/users/list/", f"/users/show/{other}", f"/users/edit/{other}",
                f"/resetpassword/form?pk={other}"):
        assert client.get(url).status_code in (302, 403), url
    token = Auth(client).csrf("/users/userinfo/")
    response = client.post(f"/users/action/resetmypassword/{other}", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/resetmypassword/form")
