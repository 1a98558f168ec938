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
