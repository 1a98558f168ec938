"""Hardening a user (or an attacker) notices: headers, CSP, cookies, CSRF, error pages."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import Auth, client_for, make_app
from tests import dbutil

CSRF_REFUSED = "jeton de sécurité"


def _raw_login(application, username: str):
    """A logged-in client WITHOUT the default CSRF header (what a forged request looks like)."""
    client = application.test_client()
    assert Auth(client).login(username).status_code == 200
    client.environ_base.pop("HTTP_X_CSRFTOKEN", None)
    return client


def _structure(application, departement_code: str = "14"):
    with application.app_context():
        from app.extensions import db
        from models import Departement, Structure

        row = db.session.execute(select(Structure.id, Structure.nom).join(Departement)
                                 .where(Departement.code == departement_code).limit(1)).first()
        db.session.remove()
        return row


def _name_of(application, pk: int) -> str:
    with application.app_context():
        from app.extensions import db
        from models import Structure

        name = db.session.get(Structure, pk).nom
        db.session.remove()
        return name


def test_security_headers_on_pages(app):
    response = app.test_client().get("/login/")
    headers = response.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers  # only in production (HTTPS)
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])


def test_csp_has_no_remote_origin_and_scripts_need_the_nonce(login):
    response = login("admin").get("/structureview/list/")
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert "http" not in csp and "*" not in csp
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'"
    nonce = re.search(r"'nonce-([^']+)'", directives["script-src"]).group(1)
    page = response.get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts, "the list page has scripts"
    assert all(f'nonce="{nonce}"' in tag for tag in scripts), [
        tag for tag in scripts if nonce not in tag]
    other = login("admin").get("/structureview/list/").headers["Content-Security-Policy"]
    assert other != csp  # a new nonce for every response


def test_session_cookie_flags(app):
    client = app.test_client()
    Auth(client).csrf()
    cookie = client.get("/login/").headers.get("Set-Cookie") or ""
    response = client.post("/login/", data={"username": "lecteur", "password": dbutil.PASSWORD,
                                            "csrf_token": Auth(client).csrf()})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on a developer's machine


def test_production_adds_hsts_and_secure_cookies(template_db, tmp_path, monkeypatch):
    monkeypatch.setenv("BHASILE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "p" * 40)
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path)
    client = application.test_client()
    response = client.post("/login/", data={"username": "lecteur", "password": dbutil.PASSWORD,
                                            "csrf_token": Auth(client).csrf()},
                           base_url="https://bhasile.example")
    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_form_post_without_csrf_token_is_refused(fresh_app):
    pk, name = _structure(fresh_app)
    client = _raw_login(fresh_app, "calvados")
    response = client.post(f"/structureview/edit/{pk}", data={"nom": "Piratée"})
    assert response.status_code == 400
    assert CSRF_REFUSED in response.get_data(as_text=True)
    assert _name_of(fresh_app, pk) == name


def test_ajax_and_cookie_api_writes_need_the_csrf_header(fresh_app):
    pk, name = _structure(fresh_app)
    client = _raw_login(fresh_app, "calvados")
    for method in ("put", "delete"):
        response = getattr(client, method)(f"/api/v1/structure/{pk}", json={"nom": "Piratée"},
                                           headers={"X-Requested-With": "XMLHttpRequest"})
        assert response.status_code == 400, method
        assert CSRF_REFUSED in response.get_json()["message"]
    assert client.post("/api/v1/structure/", json={"nom": "x"}).status_code == 400
    assert _name_of(fresh_app, pk) == name
    token = Auth(client).csrf(f"/structureview/edit/{pk}")
    version = client.get(f"/api/v1/structure/{pk}").get_json()["result"]["version"]
    response = client.put(f"/api/v1/structure/{pk}", headers={"X-CSRFToken": token},
                          json={"nom": "Renommée par l'agent", "version": version})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert _name_of(fresh_app, pk) == "Renommée par l'agent"


def test_get_cannot_mutate(fresh_app):
    pk, _name = _structure(fresh_app)
    client = _raw_login(fresh_app, "admin")
    client.get(f"/structureview/delete/{pk}")
    assert _name_of(fresh_app, pk)  # still there


@pytest.mark.parametrize("path, code, words", [
    ("/nulle-part/", 404, "Page introuvable"),
    ("/healthz", 405, "Action impossible"),
])
def test_error_pages_are_french(app, path, code, words):
    client = app.test_client()
    response = client.post(path, data={"csrf_token": Auth(client).csrf()}) if code == 405 \
        else client.get(path)
    assert response.status_code == code
    page = response.get_data(as_text=True)
    assert words in page
    assert "Traceback" not in page and "werkzeug" not in page.lower()


def test_too_large_upload_is_a_french_413(template_db, tmp_path):
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path, MAX_CONTENT_LENGTH=1024)
    client = application.test_client()
    response = client.post("/login/", data={"username": "x" * 4096})
    assert response.status_code == 413
    assert "Fichier trop volumineux" in response.get_data(as_text=True)


def test_crash_page_has_no_stack_trace_nor_sql(template_db, tmp_path):
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path, PROPAGATE_EXCEPTIONS=False)

    @application.route("/_boom")
    def _boom():
        from app.extensions import db
        from sqlalchemy import text

        db.session.execute(text("SELECT secret_column FROM missing_table"))

    client = application.test_client()
    response = client.get("/_boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Erreur interne" in page
    assert response.headers["X-Request-ID"] in page  # the reference the user can quote
    for leak in ("Traceback", "missing_table", "SELECT", "sqlalchemy", "OperationalError"):
        assert leak not in page
    api = client.get("/api/v1/_boom_does_not_exist")
    assert api.status_code == 404 and "message" in api.get_json()


def test_healthz_checks_the_database(app, template_db, tmp_path):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json()["database"] == "ok"
    url, tmp = template_db
    broken = make_app(dbutil.clone(url, tmp), tmp_path)
    from sqlalchemy import create_engine

    # the database server goes away after start-up
    engines = broken.extensions["sqlalchemy"]._app_engines[broken]
    engines[None] = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "injoignable"}


def test_json_logs_carry_request_id_and_user(login):
    import io
    import json
    import logging

    from app.web.logging_setup import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("bhasile.request")
    logger.addHandler(handler)
    old_level, old_disabled = logger.level, logger.disabled
    logger.setLevel(logging.INFO)
    logger.disabled = False  # Alembic's fileConfig (flask db upgrade in the fixtures) disables it
    try:
        client = login("lecteur")
        response = client.get("/structureview/list/", headers={"X-Request-ID": "proxy-id-0001"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.disabled = old_disabled
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    entry = [e for e in lines if e.get("path") == "/structureview/list/"][-1]
    assert response.headers["X-Request-ID"] == "proxy-id-0001" == entry["request_id"]
    assert entry["user"] == "lecteur" and entry["status"] == 200
    assert entry["method"] == "GET" and entry["duration_ms"] >= 0


def test_jwt_api_calls_need_no_csrf_but_cookies_with_a_bearer_header_do(fresh_app):
    pk, _name = _structure(fresh_app)
    browser = _raw_login(fresh_app, "calvados")
    token = browser.post("/api/v1/security/login", headers={"X-CSRFToken": Auth(browser).csrf(
        f"/structureview/edit/{pk}")}, json={"username": "calvados", "password": dbutil.PASSWORD,
                                             "provider": "db"}).get_json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    forged = browser.put(f"/api/v1/structure/{pk}", json={"nom": "Piratée"},
                         headers={"Authorization": "Bearer n-importe-quoi"})
    assert forged.status_code == 400 and CSRF_REFUSED in forged.get_json()["message"]
    machine = fresh_app.test_client()  # a script: its token, no session cookie
    version = machine.get(f"/api/v1/structure/{pk}", headers=bearer).get_json()["result"]["version"]
    response = machine.put(f"/api/v1/structure/{pk}", headers=bearer,
                           json={"nom": "Renommée par script", "version": version})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert _name_of(fresh_app, pk) == "Renommée par script"


@pytest.mark.parametrize("username", [None, "lecteur", "admin"])
def test_an_unknown_list_action_is_a_french_400_not_a_crash(app, username):
    """Found on the demo park: POST /<view>/action_post with a made-up action answered 500,
    even signed out (FAB looked the action up before checking anything)."""
    client = client_for(app, username)
    token = client.environ_base.get("HTTP_X_CSRFTOKEN") or Auth(client).csrf()
    for path in ("/structureview/action_post", "/roles/action_post", "/users/action_post"):
        response = client.post(path, data={"action": "inconnue", "rowid": ["1"], "csrf_token": token})
        assert response.status_code == 400, (path, response.status_code)
        assert "Action inconnue" in response.get_data(as_text=True)
    response = client.post("/structureview/action/inconnue/1", data={"csrf_token": token})
    assert response.status_code == 404 and "Action inconnue" in response.get_data(as_text=True)


def test_a_known_action_on_a_missing_record_is_a_404(fresh_app):
    client = client_for(fresh_app, "admin")
    token = client.environ_base["HTTP_X_CSRFTOKEN"]
    for rowid in ("987654", "abc", "99999999999999999999"):
        response = client.post("/roles/action_post", data={"action": "copyrole", "rowid": [rowid],
                                                           "csrf_token": token})
        assert response.status_code == 404, rowid
        assert "enregistrements choisis n&#39;existe pas" in response.get_data(as_text=True)
    with fresh_app.app_context():
        from app.extensions import db
        from flask_appbuilder.security.sqla.models import Role

        assert not db.session.scalars(select(Role).where(Role.name.like("%copy%"))).all()
        db.session.remove()


@pytest.mark.parametrize("query, words", [
    ("(filters:!((col:nom,opr:ct,value:'a\x00b')))", "caractère nul"),
    ("(order_column:'n\x00m',order_direction:asc)", "caractère nul"),
    ("(page:-1,page_size:10)", "page doit être un entier"),
    ("(page:0,page_size:-5)", "page_size doit être un entier"),
    ("(page:-1,page_size:-5)", "page"),
    ("(page:99999999999999999999,page_size:10)", "page doit être un entier"),
    ("(page:1.5)", "page doit être un entier"),
], ids=["nul-filter", "nul-order", "page", "page-size", "both", "huge", "float"])
def test_a_bad_api_query_is_a_french_400(login, query, words):
    """Found on PostgreSQL: a NUL character or a negative page in ``q`` answered 500 "Fatal
    error" (PostgreSQL refuses NUL in text and a negative OFFSET); SQLite let them through."""
    client = login("calvados")
    for path in ("/api/v1/structure/", "/api/v1/operateur/"):
        response = client.get(path, query_string={"q": query})
        assert response.status_code == 400, (path, response.get_data(as_text=True))
        message = response.get_json()["message"]
        assert message.startswith("Paramètre « q » invalide") and words in message, message
    ok = client.get("/api/v1/structure/", query_string={"q": "(page:0,page_size:5)"})
    assert ok.status_code == 200 and len(ok.get_json()["result"]) == 5
