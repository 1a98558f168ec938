"""Shared fixtures of the browser tests: one live server on a clone of the demo park and one
headless Debian chromium (never a downloaded browser) for the whole e2e run, and pages opened
already signed in as a demo account (logged in once per account, then its cookies reused)."""
from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import dbutil
from tests.conftest import make_app

CHROMIUM = shutil.which("chromium")
ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def pytest_collection_modifyitems(items):
    if CHROMIUM is None:
        skip = pytest.mark.skip(reason="chromium absent : lancez make system-deps")
        for item in items:
            if "/e2e/" in str(item.fspath):
                item.add_marker(skip)


@dataclass
class LiveServer:
    """The app served over HTTP, with the ids of a few records the tests open."""

    url: str
    app: object
    ids: dict[str, int | str] = field(default_factory=dict)
    states: dict[str, dict] = field(default_factory=dict)


def _ids(application) -> dict[str, int | str]:
    """A Calvados structure with a contrôle, its opérateur: what the pages under test show."""
    from sqlalchemy import func, select

    from app.extensions import db
    from models import Controle, Departement, Structure

    with application.app_context():
        structure, controle = db.session.execute(
            select(Structure, func.min(Controle.id)).join(Controle, Controle.structure_id == Structure.id)
            .join(Departement, Structure.departement_id == Departement.id)
            .where(Departement.code == "14").group_by(Structure.id).order_by(Structure.code_dna).limit(1)
        ).one()
        ids = {"structure": structure.id, "controle": controle, "operateur": structure.operateur_id,
               "operateur_nom": structure.operateur.nom}
        db.session.remove()
    return ids


@pytest.fixture(scope="session")
def live_server(template_db, tmp_path_factory):
    from werkzeug.serving import make_server

    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path_factory.mktemp("e2e"))
    with application.app_context():
        from app.jobs import run_job

        run_job("rebuild", "test")  # the dashboards' figures
    srv = make_server("127.0.0.1", 0, application, threaded=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns failures
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{srv.server_port}", application, _ids(application))
    srv.shutdown()
    thread.join(5)
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


def login(page, username: str, password: str = dbutil.PASSWORD) -> None:
    page.goto("/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.locator("form [type=submit]").first.click()
    page.wait_for_load_state()


def _watch(page) -> None:
    """Collect what the page reports as broken: console errors (CSP violations included),
    uncaught exceptions, HTTP errors. Tests assert ``page.problems == []``."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console : {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"exception : {e} @ {page.url} {e.stack}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("favicon.ico") else None)
    page.problems = problems


@pytest.fixture()
def open_page(browser, live_server):
    """``open_page("calvados")`` → a new tab signed in as that demo account (``None``:
    anonymous), in its own browser context; closed after the test."""
    contexts = []

    def make(username: str | None = None, permissions: tuple[str, ...] = ()):
        options = {"base_url": live_server.url, "locale": "fr-FR", "viewport": {"width": 1280, "height": 900}}
        if username and username not in live_server.states:
            context = browser.new_context(**options)
            login(context.new_page(), username)
            live_server.states[username] = context.storage_state()
            context.close()
        if username:
            options["storage_state"] = live_server.states[username]
        context = browser.new_context(**options)
        contexts.append(context)
        if permissions:
            context.grant_permissions(list(permissions), origin=live_server.url)
        tab = context.new_page()
        tab.set_default_timeout(15000)
        _watch(tab)
        return tab

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    """A full-page PNG in ``$BHASILE_SCREENSHOTS`` (default build/screenshots/)."""
    folder = Path(os.environ.get("BHASILE_SCREENSHOTS") or ROOT / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
