"""Fixtures: a demo-park database built once per run, apps on clones of it, logged-in clients."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import dbutil

SAMPLES = Path(__file__).parent / "samples"


def make_app(url: str, tmp: Path, **extra):
    from app import create_app

    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "t" * 40, "INSTANCE_DIR": str(tmp),
              "TESTING": True, "SQLALCHEMY_ENGINE_OPTIONS": {},
              # background jobs in threads of the test process, also on PostgreSQL: the real
              # queue and its workers are tested as processes (tests/test_multihost.py)
              "BHASILE_QUEUE": "thread"}
    config.update(extra)
    return create_app(config)


def run_cli(app, *args, input: str | None = None):
    return app.test_cli_runner().invoke(args=list(args), input=input, catch_exceptions=False)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """Schema + reference + roles + ×1 demo park + one account per role (password PASSWORD)."""
    tmp = tmp_path_factory.mktemp("db")
    dbutil.drop_all_test_databases()
    url = dbutil.create_empty(tmp, "template")
    app = make_app(url, tmp)
    assert run_cli(app, "bhasile", "init").exit_code == 0
    result = run_cli(app, "bhasile", "demo")
    assert result.exit_code == 0, result.output
    with app.app_context():
        from app.cli import create_demo_users
        from app.extensions import db

        create_demo_users(lambda: dbutil.PASSWORD)
        db.session.remove()
        db.engine.dispose()
    yield url, tmp
    dbutil.drop_all_test_databases()


@pytest.fixture(scope="session")
def app(template_db):
    """One app for tests that read (or write only records they create themselves)."""
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp, "shared"), tmp)
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def fresh_app(template_db, tmp_path):
    """An app on its own copy of the demo park, for tests that change shared records."""
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path)
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


class Auth:
    def __init__(self, client):
        self.client = client

    def csrf(self, path: str = "/login/") -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, username: str, password: str = dbutil.PASSWORD):
        token = self.csrf()
        response = self.client.post("/login/", data={"username": username, "password": password,
                                                     "csrf_token": token}, follow_redirects=True)
        # as the app's JavaScript does: the CSRF token on every AJAX and REST API write
        self.client.environ_base["HTTP_X_CSRFTOKEN"] = token
        return response


def client_for(application, username: str | None):
    client = application.test_client()
    if username:
        response = Auth(client).login(username)
        assert response.status_code == 200
    return client


@pytest.fixture()
def login(app):
    return lambda username: client_for(app, username)


@pytest.fixture()
def runner(app) -> CliRunner:
    return app.test_cli_runner()
