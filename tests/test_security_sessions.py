"""Sessions that end on their own, logins that lock after repeated failures, 12+ passwords."""
from __future__ import annotations

import time

import pytest

from tests import dbutil
from tests.conftest import Auth, make_app

LOCKED = "Compte temporairement verrouillé"


@pytest.fixture()
def guarded_app(template_db, tmp_path):
    """The production settings of the login guard (the suite itself runs with lenient ones)."""
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path, BHASILE_LOGIN_MAX_FAILURES=5,
                           BHASILE_LOGIN_IP_MAX_FAILURES=8, BHASILE_LOGIN_LOCKOUT_MINUTES=15)
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def _try(client, username: str, password: str):
    token = Auth(client).csrf()
    return client.post("/login/", data={"username": username, "password": password,
                                        "csrf_token": token}, follow_redirects=True)


def _logged_in(client) -> bool:
    return client.get("/structureview/list/").status_code == 200


def test_idle_session_expires_after_30_minutes(login):
    client = login("lecteur")
    assert _logged_in(client)
    with client.session_transaction() as session:
        session["_bh_seen"] = time.time() - 29 * 60
    assert _logged_in(client)  # activity within 30 minutes keeps the session
    with client.session_transaction() as session:
        session["_bh_seen"] = time.time() - 31 * 60
    response = client.get("/structureview/list/", follow_redirects=True)
    assert "Votre session a expiré" in response.get_data(as_text=True)
    assert not _logged_in(client)


def test_session_ends_after_12_hours_even_when_active(login):
    client = login("lecteur")
    with client.session_transaction() as session:
        session["_bh_started"] = time.time() - 12 * 3600 - 60
    response = client.get("/api/v1/structure/?q=(page_size:1)")
    assert response.status_code == 401
    assert "session a expiré" in response.get_json()["message"]
    assert not _logged_in(client)


def test_lifetimes_are_configurable(template_db, tmp_path):
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path, BHASILE_SESSION_IDLE_MINUTES=1)
    client = application.test_client()
    Auth(client).login("lecteur")
    with client.session_transaction() as session:
        session["_bh_seen"] = time.time() - 90
    assert not _logged_in(client)


def test_account_locks_after_five_failures_even_for_the_right_password(guarded_app):
    client = guarded_app.test_client()
    for _ in range(5):
        page = _try(client, "calvados", "mauvais-mot-de-passe").get_data(as_text=True)
        assert LOCKED not in page
    page = _try(client, "calvados", dbutil.PASSWORD).get_data(as_text=True)
    assert LOCKED in page and "réessayez dans 15 minutes" in page
    assert not _logged_in(client)
    # another account from the same address still logs in
    other = guarded_app.test_client()
    _try(other, "lecteur", dbutil.PASSWORD)
    assert _logged_in(other)


def test_lockout_is_shared_by_every_process_and_ends(guarded_app):
    client = guarded_app.test_client()
    for _ in range(5):
        _try(client, "normandie", "mauvais-mot-de-passe")
    with guarded_app.app_context():  # what another gunicorn worker reads: the database
        import datetime as dt

        from app.extensions import db
        from models import LoginThrottle
        from models.base import utcnow

        row = db.session.query(LoginThrottle).filter_by(key="user:normandie").one()
        assert row.failures == 5 and row.locked_until is not None
        row.locked_until = utcnow() - dt.timedelta(seconds=1)  # 15 minutes later
        row.first_failure_at -= dt.timedelta(minutes=16)
        db.session.commit()
        db.session.remove()
    _try(client, "normandie", dbutil.PASSWORD)
    assert _logged_in(client)


def test_one_address_trying_many_accounts_is_slowed_down(guarded_app):
    client = guarded_app.test_client()
    for n in range(8):
        _try(client, f"inconnu{n}", "mauvais-mot-de-passe")
    token = Auth(client).csrf()
    response = client.post("/login/", data={"username": "lecteur", "password": dbutil.PASSWORD,
                                            "csrf_token": token})
    assert response.status_code == 429
    assert "Trop de tentatives de connexion depuis cette adresse" in response.get_data(as_text=True)


def test_password_policy_twelve_characters(fresh_app):
    client = fresh_app.test_client()
    Auth(client).login("calvados")
    form = "/resetmypassword/form"
    token = Auth(client).csrf(form)
    page = client.post(form, data={"password": "Court-1", "conf_password": "Court-1",
                                   "csrf_token": token}, follow_redirects=True)
    assert "au moins 12 caractères" in page.get_data(as_text=True)
    again = fresh_app.test_client()
    Auth(again).login("calvados")  # the old password still works
    assert _logged_in(again)
    token = Auth(again).csrf(form)
    new = "une-phrase-de-passe-solide"
    again.post(form, data={"password": new, "conf_password": new, "csrf_token": token})
    third = fresh_app.test_client()
    Auth(third).login("calvados", new)
    assert _logged_in(third)


def test_password_policy_unit(app):
    from flask_appbuilder.exceptions import PasswordComplexityValidationError

    from app.passwords import password_policy

    with app.test_request_context():
        for bad in ("", "onze-caract", "aaaaaaaaaaaaaaaa"):
            with pytest.raises(PasswordComplexityValidationError):
                password_policy(bad)
        password_policy("douze-caract")


def test_api_login_shares_the_account_lockout(guarded_app):
    client = guarded_app.test_client()
    headers = {"X-CSRFToken": Auth(client).csrf()}
    attempt = {"username": "operateur", "password": "mauvais-mot-de-passe", "provider": "db"}
    for _ in range(5):
        assert client.post("/api/v1/security/login", json=attempt, headers=headers).status_code == 401
    attempt["password"] = dbutil.PASSWORD
    response = client.post("/api/v1/security/login", json=attempt, headers=headers)
    assert response.status_code == 429
    assert "verrouillé" in response.get_json()["message"]
    assert LOCKED in _try(client, "operateur", dbutil.PASSWORD).get_data(as_text=True)


def test_signed_in_user_posting_another_login_leaves_its_lockout_untouched(guarded_app):
    """Finding: any signed-in user reset another account's lockout by posting its login."""
    victim = guarded_app.test_client()
    for _ in range(4):
        _try(victim, "calvados", "mauvais-mot-de-passe")
    attacker = guarded_app.test_client()
    _try(attacker, "lecteur", dbutil.PASSWORD)
    assert _logged_in(attacker)
    token = Auth(attacker).csrf("/resetmypassword/form")  # /login/ itself sends them home

    def post_as_signed_in(password: str) -> None:
        attacker.post("/login/", data={"username": "calvados", "password": password,
                                       "csrf_token": token})

    for password in ("mauvais-mot-de-passe", dbutil.PASSWORD, ""):
        post_as_signed_in(password)
    assert _throttle(guarded_app, "user:calvados") == (4, False)
    _try(victim, "calvados", "mauvais-mot-de-passe")  # the fifth real failure locks
    failures, locked = _throttle(guarded_app, "user:calvados")
    assert (failures, locked) == (5, True)
    post_as_signed_in(dbutil.PASSWORD)
    assert _throttle(guarded_app, "user:calvados") == (5, True)
    assert LOCKED in _try(guarded_app.test_client(), "calvados", dbutil.PASSWORD).get_data(as_text=True)


def test_only_the_accounts_own_success_resets_its_failures_and_email_counts_as_login(guarded_app):
    client = guarded_app.test_client()
    for login in ("normandie", "normandie@bhasile.invalid", "NORMANDIE"):
        _try(client, login, "mauvais-mot-de-passe")
    assert _throttle(guarded_app, "user:normandie") == (3, False)  # one account, one counter
    _try(guarded_app.test_client(), "lecteur", dbutil.PASSWORD)  # someone else's success
    assert _throttle(guarded_app, "user:normandie") == (3, False)
    _try(client, "normandie@bhasile.invalid", dbutil.PASSWORD)
    assert _logged_in(client)
    assert _throttle(guarded_app, "user:normandie") is None


def _throttle(application, key: str):
    with application.app_context():
        from app.extensions import db
        from models import LoginThrottle
        from models.base import utcnow

        row = db.session.query(LoginThrottle).filter_by(key=key).one_or_none()
        result = None if row is None else (
            row.failures, row.locked_until is not None and row.locked_until > utcnow())
        db.session.remove()
    return result


# -- API tokens: a script signs in without CSRF token, and stays throttled -------------------

def _api_login(client, username: str, password: str = dbutil.PASSWORD, refresh: bool = False):
    return client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db", "refresh": refresh})


def test_script_gets_an_api_token_without_csrf_token(app):
    """Finding: a script could not get a token, the login demanded a CSRF token."""
    script = app.test_client()  # no cookie, no page read before
    response = _api_login(script, "calvados")
    assert response.status_code == 200, response.get_data(as_text=True)
    bearer = {"Authorization": f"Bearer {response.get_json()['access_token']}"}
    assert script.get("/api/v1/structure/?q=(page_size:1)", headers=bearer).status_code == 200
    assert not script.get_cookie("session") or "_user_id" not in str(script.get_cookie("session"))


@pytest.mark.parametrize("body, message", [
    ("pas du JSON", "Corps JSON attendu"),
    ({"username": "calvados"}, "Indiquez « username » et « password »"),
    ({"username": "calvados", "password": "x", "provider": "ldap"}, "« provider » doit valoir « db »"),
    ({"username": "calvados", "password": "x", "provider": "db", "refresh": "oui"}, "« refresh »"),
])
def test_malformed_api_login_is_told_in_french(app, body, message):
    kwargs = {"json": body} if isinstance(body, dict) else {"data": body}
    response = app.test_client().post("/api/v1/security/login", **kwargs)
    assert response.status_code == 400 and message in response.get_json()["message"]


def test_api_login_without_csrf_shares_the_account_lockout(guarded_app):
    script = guarded_app.test_client()
    for _ in range(5):
        assert _api_login(script, "operateur", "mauvais-mot-de-passe").status_code == 401
    response = _api_login(script, "operateur")
    assert response.status_code == 429 and "verrouillé" in response.get_json()["message"]


def test_cookie_authenticated_writes_still_need_the_csrf_token(login):
    client = login("calvados")
    client.environ_base.pop("HTTP_X_CSRFTOKEN", None)
    response = client.post("/api/v1/structure/", json={"code_dna": "Z9999", "type": "HUDA"})
    assert response.status_code == 400 and "jeton de sécurité" in response.get_json()["message"]
