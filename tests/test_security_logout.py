"""Signing out and revoking for good: a copy of the cookie, a second browser or an API token of
the account stop working once the user signs out, their password changes or the account is
deactivated (each test replays what an attacker would have kept)."""
from __future__ import annotations

from html import unescape

from sqlalchemy import select

from tests import dbutil
from tests.conftest import Auth, client_for, run_cli

NEW_PASSWORD = "une-autre-phrase-secrete"
ENDED = "Votre session a pris fin"


def _logged_in(client) -> bool:
    return client.get("/structureview/list/").status_code == 200


def _replay(application, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = application.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _tokens(client, username: str, password: str = dbutil.PASSWORD) -> dict:
    response = client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db", "refresh": True})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _api(application, tokens: dict):
    """(status of a read with the access token, status of a refresh with the refresh token)."""
    script = application.test_client()
    read = script.get("/api/v1/structure/?q=(page_size:1)",
                      headers={"Authorization": f"Bearer {tokens['access_token']}"})
    refresh = script.post("/api/v1/security/refresh",
                          headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    return read.status_code, refresh.status_code


def _user_id(application, login: str) -> int:
    with application.app_context():
        from app.extensions import db
        from models import BhasileUser

        return db.session.scalar(select(BhasileUser.id).where(BhasileUser.username == login))


def _sign_out(client):
    token = Auth(client).csrf("/logout/")
    return client.post("/logout/", data={"csrf_token": token}, follow_redirects=True)


def test_replayed_cookie_after_logout_is_signed_out(app):
    """Finding: a session cookie still worked after logout."""
    client = client_for(app, "lecteur")
    thief = _replay(app, client)
    assert _logged_in(thief)  # the copy works while the session is open
    page = _sign_out(client).get_data(as_text=True)
    assert "Vous êtes déconnecté de BHasile" in page and "Connexion à BHasile" in page
    assert not _logged_in(client)
    page = thief.get("/structureview/list/", follow_redirects=True).get_data(as_text=True)
    assert ENDED in page and "Connexion à BHasile" in page
    replayed = _replay(app, client)  # the cookie as it was before signing out, again
    assert not _logged_in(replayed)
    assert app.test_client().get("/api/v1/structure/", headers={
        "Cookie": f"session={client.get_cookie('session').value}"}).status_code == 401


def test_get_logout_does_not_sign_out_and_offers_the_button(app):
    """Finding: signing out was a GET (a link or an image elsewhere could sign anyone out)."""
    client = client_for(app, "calvados")
    page = client.get("/logout/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Se déconnecter de BHasile ?" in html
    assert 'method="post" action="/logout/"' in html and 'name="csrf_token"' in html
    assert _logged_in(client)
    assert app.test_client().get("/logout/").status_code == 302  # nobody to sign out


def test_forged_logout_without_csrf_token_changes_nothing(app):
    client = client_for(app, "calvados")
    client.environ_base.pop("HTTP_X_CSRFTOKEN", None)
    response = client.post("/logout/")
    assert response.status_code == 400 and "jeton de sécurité" in response.get_data(as_text=True)
    assert _logged_in(client)


def test_password_change_ends_the_other_sessions_and_tokens_but_not_this_one(fresh_app):
    """Findings: other sessions and the 30-day refresh token survived a password change."""
    here = client_for(fresh_app, "calvados")
    elsewhere = client_for(fresh_app, "calvados")
    tokens = _tokens(fresh_app.test_client(), "calvados")
    assert _api(fresh_app, tokens) == (200, 200)
    form = "/resetmypassword/form"
    page = here.post(form, data={"password": NEW_PASSWORD, "conf_password": NEW_PASSWORD,
                                 "csrf_token": Auth(here).csrf(form)}, follow_redirects=True)
    assert "vos autres sessions et vos jetons d'API sont fermés" in unescape(page.get_data(as_text=True))
    assert _logged_in(here)  # the user who changed it goes on
    assert not _logged_in(elsewhere)
    assert ENDED in elsewhere.get("/", follow_redirects=True).get_data(as_text=True)
    read, refresh = _api(fresh_app, tokens)
    assert (read, refresh) == (401, 401)
    response = fresh_app.test_client().post("/api/v1/security/refresh", headers={
        "Authorization": f"Bearer {tokens['refresh_token']}"})
    assert "n'est plus valable" in response.get_json()["message"]
    assert _api(fresh_app, _tokens(fresh_app.test_client(), "calvados", NEW_PASSWORD)) == (200, 200)


def test_admin_reset_and_cli_reset_end_every_session_of_the_account(fresh_app):
    victim = client_for(fresh_app, "normandie")
    tokens = _tokens(fresh_app.test_client(), "normandie")
    admin = client_for(fresh_app, "admin")
    form = f"/resetpassword/form?pk={_user_id(fresh_app, 'normandie')}"
    page = admin.post(form, data={"password": NEW_PASSWORD, "conf_password": NEW_PASSWORD,
                                  "csrf_token": Auth(admin).csrf(form)}, follow_redirects=True)
    assert "les sessions et jetons d'API de ce compte sont fermés" in unescape(page.get_data(as_text=True))
    assert _logged_in(admin) and not _logged_in(victim)
    assert _api(fresh_app, tokens) == (401, 401)

    again = fresh_app.test_client()
    Auth(again).login("normandie", NEW_PASSWORD)
    assert _logged_in(again)
    result = run_cli(fresh_app, "bhasile", "create-user", "normandie", "--role", "Agent régional",
                     "--region", "28", "--password-stdin", input="encore-une-phrase-neuve\n")
    assert result.exit_code == 0, result.output
    assert not _logged_in(again)


def test_unknown_account_in_admin_reset_is_a_404(login):
    admin = login("admin")
    token = Auth(admin).csrf("/resetpassword/form?pk=1")
    for pk in ("999999", "abc", "99999999999999999999", ""):
        response = admin.post(f"/resetpassword/form?pk={pk}", data={
            "password": NEW_PASSWORD, "conf_password": NEW_PASSWORD, "csrf_token": token})
        assert response.status_code == 404, pk


def test_deactivated_account_stays_signed_out_after_reactivation(fresh_app):
    victim = client_for(fresh_app, "lecteur")
    tokens = _tokens(fresh_app.test_client(), "lecteur")
    with fresh_app.app_context():
        from app.extensions import db
        from models import BhasileUser

        user = db.session.scalar(select(BhasileUser).where(BhasileUser.username == "lecteur"))
        user.active = False
        db.session.commit()
        assert not _logged_in(victim) and _api(fresh_app, tokens) == (401, 401)
        user.active = True  # reactivated: the old cookie and tokens do not come back
        db.session.commit()
        db.session.remove()
    assert not _logged_in(victim) and not _logged_in(_replay(fresh_app, victim))
    assert _api(fresh_app, tokens) == (401, 401)
    assert _logged_in(client_for(fresh_app, "lecteur"))


def test_token_of_another_epoch_or_without_one_is_refused(app):
    with app.test_request_context():
        from flask_jwt_extended import create_access_token

        uid = str(_user_id(app, "lecteur"))
        forged = create_access_token(identity=uid, additional_claims={"bhe": 10**6})
    with app.app_context():
        import jwt

        old = jwt.encode({"sub": uid, "type": "access", "fresh": False, "jti": "x",
                          "iat": 1, "nbf": 1, "exp": 4102444800}, app.config["SECRET_KEY"],
                         algorithm="HS256")  # issued before tokens carried the epoch
    for token in (forged, old):
        response = app.test_client().get("/api/v1/structure/",
                                         headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and "n'est plus valable" in response.get_json()["message"]
