"""An agent of the Calvados walks every page, API and file of the app and never sees another
département's structure (a code DNA of elsewhere is the marker)."""
from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import select

from app.scope import Scope, condition_for
from models import Departement
from models.enums import Role
from tests.conftest import client_for
from tests.views_util import leaked, out_of_scope_codes

SKIP_ENDPOINTS = {"static", "appbuilder.static", "AuthDBView.logout", "LocaleView.index",
                  "UtilView.back"}


def _calvados_scope(app) -> Scope:
    with app.app_context():
        from app.extensions import db

        dep = db.session.scalar(select(Departement.id).where(Departement.code == "14"))
    return Scope(departement_ids=frozenset({dep}), roles=frozenset({Role.DEPARTEMENTAL.value}))


def _outside_id(app, view, scope: Scope) -> str:
    """An id of the view's model outside the scope (or an id that does not exist)."""
    model = getattr(getattr(view, "datamodel", None), "obj", None)
    if model is None:
        return "999999"
    with app.app_context():
        from app.extensions import db

        try:
            found = db.session.scalar(select(model.id).where(~condition_for(model, scope)).limit(1))
        except LookupError:
            found = None
    return str(found or 999999)


def _urls(app, scope: Scope) -> list[str]:
    views = {v.endpoint: v for v in app.appbuilder.baseviews}
    urls = []
    for rule in app.url_map.iter_rules():
        if ("GET" not in rule.methods or rule.endpoint in SKIP_ENDPOINTS
                or rule.endpoint.endswith(".action")):  # FAB's actions need a real action name
            continue
        view = views.get(rule.endpoint.split(".")[0])
        args = {name: _outside_id(app, view, scope) for name in rule.arguments}
        try:
            with app.test_request_context():
                from flask import url_for

                urls.append(url_for(rule.endpoint, **args))
        except Exception:  # a converter refusing a number (e.g. a file name): try a word
            with app.test_request_context():
                from flask import url_for

                urls.append(url_for(rule.endpoint, **{k: "structure" for k in args}))
    if "ExportView.view" in app.view_functions:  # every list's "Exporter" file
        with app.test_request_context():
            from flask import url_for

            urls += [url_for("ExportView.view", view_name=v.__class__.__name__)
                     for v in app.appbuilder.baseviews if hasattr(v, "datamodel")]
    return sorted(set(urls))


def _text(response) -> str:
    data = response.get_data()
    if data[:2] == b"PK":  # xlsx, zip: read every member
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return " ".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
        except zipfile.BadZipFile:
            pass
    return data.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def walk(template_db):
    from tests import dbutil
    from tests.conftest import make_app

    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp, "walk"), tmp)
    yield application, out_of_scope_codes(dbutil.new_url(tmp, "walk"))
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def test_no_page_api_or_file_shows_a_structure_of_another_departement(walk):
    app, forbidden = walk
    client = client_for(app, "calvados")
    urls = _urls(app, _calvados_scope(app))
    assert any(u.startswith("/api/v1/structure") for u in urls)
    leaks, errors = {}, []
    for url in urls:
        try:
            response = client.get(url)
        except Exception as exc:  # noqa: BLE001 - reported below with the URL
            errors.append(f"{url}: {exc!r}"[:200])
            continue
        if response.status_code >= 500:
            errors.append(url)
        found = leaked(_text(response), forbidden)
        if found:
            leaks[url] = sorted(found)[:5]
    assert not leaks, f"records of other départements shown: {leaks}"
    assert not errors, f"server errors: {errors}"


def test_the_walk_does_see_calvados_records(walk):
    """The marker works: the same pages do show the agent's own structures."""
    app, forbidden = walk
    client = client_for(app, "calvados")
    body = client.get("/structureview/list/").get_data(as_text=True)
    assert "14 - Calvados" in body and not leaked(body, forbidden)
    api = client.get("/api/v1/structure/").get_json()
    assert api["count"] > 0 and all(r["departement"]["code"] == "14" for r in api["result"])
