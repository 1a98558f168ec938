"""Fixtures: a demo-park database built once per run, apps on clones of it, logged-in clients."""
from __future__ import annotations

import copy
import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests import dbutil

SAMPLES = Path(__file__).parent / "samples"


def pytest_configure(config):
    config.addinivalue_line("markers", "xdist_group(name): the tests pytest-xdist keeps on one worker")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Under ``pytest -n`` (``make test``), with ``--dist loadgroup``: a module's tests stay on
    one worker (its module-scoped app is built once), and all the browser tests on one worker
    (one live server, one chromium). First of the hooks: pytest-xdist's own, which reads these
    marks, runs before a conftest's otherwise, and the tests were spread test by test (a
    module's fixtures built on both workers, a browser procedure's steps run apart)."""
    for item in items:
        group = "e2e" if "/e2e/" in f"/{item.nodeid}" else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def soffice_profile(tmp_path_factory) -> str:
    """One LibreOffice user profile for the run (a new profile costs seconds of start-up per
    conversion), as the ``-env:UserInstallation`` argument of ``soffice``."""
    return f"-env:UserInstallation=file://{tmp_path_factory.mktemp('soffice-profile')}"


def make_app(url: str, tmp: Path, **extra):
    from app import create_app

    # PostgreSQL: a commit does not wait for the disk (the suite never simulates a server
    # crash, the only case where that setting loses a commit)
    engine = {"connect_args": {"options": "-c synchronous_commit=off"}} if url.startswith("postgresql") else {}
    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "t" * 40, "INSTANCE_DIR": str(tmp),
              "TESTING": True, "SQLALCHEMY_ENGINE_OPTIONS": engine,
              # background jobs in threads of the test process, also on PostgreSQL: the real
              # queue and its workers are tested as processes (tests/test_multihost.py)
              "BHASILE_QUEUE": "thread"}
    config.update(extra)
    return create_app(config)


def run_cli(app, *args, input: str | None = None):
    return app.test_cli_runner().invoke(args=list(args), input=input, catch_exceptions=False)


def _cheap_demo_hashes(db) -> None:
    """The demo accounts' password hashed with one PBKDF2 round instead of scrypt (~0.1 s of
    CPU per check): the suite signs in about a thousand times. The check is the same one
    (werkzeug reads the method from the stored hash: a wrong password is still refused); only
    these test accounts are concerned, every password the app itself hashes keeps its method."""
    from werkzeug.security import generate_password_hash

    users = db.session.execute(sa.text("SELECT id FROM ab_user")).scalars().all()
    for user_id in users:
        db.session.execute(sa.text("UPDATE ab_user SET password = :p WHERE id = :id"),
                           {"p": generate_password_hash(dbutil.PASSWORD, "pbkdf2:sha256:1"), "id": user_id})
    db.session.commit()


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
        _cheap_demo_hashes(db)
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


@pytest.fixture(scope="session")
def _fresh_pool(template_db, tmp_path_factory):
    """The one app behind ``fresh_app`` (building an app takes about a second of CPU, and a
    thousand tests use one): its database and settings are put back before each test."""
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp, "fresh"), tmp_path_factory.mktemp("fresh"))
    settings = {key: _copy(value) for key, value in application.config.items()}
    yield application, settings, set(application.extensions), url
    _close(application)


def _close(application) -> None:
    for thread in threading.enumerate():  # background exports and imports of the last test
        if thread.name.startswith(("bhasile-export", "bhasile-import", "bhasile-notification")):
            thread.join(30)
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def _copy(value):
    try:
        return copy.deepcopy(value)
    except Exception:  # a setting that cannot be copied is not one a test changes in place
        return value


@pytest.fixture()
def fresh_app(_fresh_pool, tmp_path):
    """An app on its own copy of the demo park, for tests that change shared records: the
    database is a fresh copy of the template, the settings those of a new app, the instance
    directory (uploads, exports, documents) the test's own ``tmp_path``."""
    application, settings, extensions, template_url = _fresh_pool
    _close(application)
    dbutil.reset(template_url, application.config["SQLALCHEMY_DATABASE_URI"])
    config = application.config
    for key in set(config) - set(settings):
        del config[key]
    for key, value in settings.items():  # an unchanged setting keeps its object
        if key not in config or config[key] != value:
            config[key] = _copy(value)
    config.update(INSTANCE_DIR=str(tmp_path), UPLOAD_FOLDER=str(tmp_path / "uploads"))
    application.instance_path = str(tmp_path)
    for name in set(application.extensions) - extensions:  # built on first use (documents storage)
        del application.extensions[name]
    yield application


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
