"""Role × action × in/out of scope: who may list, read, add, change and delete a structure,
through the pages and the REST API. Out of scope answers 404 (or refuses the write)."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from models import Departement, Structure
from tests.conftest import Auth, client_for
from tests.views_util import read_form

ROLES = ["admin", "centrale", "normandie", "calvados", "lecteur", "operateur"]
EDITORS = {"admin", "centrale", "normandie", "calvados"}
NATIONAL = {"admin", "centrale", "lecteur"}
ACTIONS = ["list", "show", "add", "edit", "delete", "api_get", "api_post", "api_put", "api_delete"]
_taken: set[int] = set()


@pytest.fixture(scope="module")
def mapp(template_db):
    from tests import dbutil
    from tests.conftest import make_app

    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp, "matrix"), tmp)
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def _db():
    from app.extensions import db

    return db.session


def _territory(role: str):
    """SQL condition on Structure for the role's own territory (None = national)."""
    if role in NATIONAL:
        return None
    if role == "calvados":
        return Structure.departement_id.in_(select(Departement.id).where(Departement.code == "14"))
    if role == "normandie":
        return Structure.departement_id.in_(
            select(Departement.id).join(Departement.region).where(Departement.region.has(code="28")))
    from models import BhasileUser

    op_id = _db().scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
    return Structure.operateur_id == op_id


def pick(app, role: str, inside: bool, write: bool):
    """A structure inside (or outside) the role's territory; one a write never touched."""
    with app.app_context():
        cond = _territory(role)
        if cond is None:
            cond = Structure.id.is_not(None)
        where = cond if inside else ~cond
        ids = _db().scalars(select(Structure.id).where(where).order_by(Structure.id)).all()
        sid = next(i for i in ids if i not in _taken)
        if write:
            _taken.add(sid)
        s = _db().get(Structure, sid)
        return sid, s.code_dna, s.departement_id


def _dep_for(app, role: str, inside: bool) -> int:
    with app.app_context():
        code = {"normandie": "50", "calvados": "14"}.get(role, "75") if inside else "75"
        return _db().scalar(select(Departement.id).where(Departement.code == code))


def _exists(app, sid: int) -> bool:
    with app.app_context():
        return _db().get(Structure, sid) is not None


def _nom(app, sid: int):
    with app.app_context():
        _db().expire_all()
        return _db().get(Structure, sid).nom


def _version(app, sid: int) -> int:
    with app.app_context():
        return _db().get(Structure, sid).version


def run(app, client, role: str, action: str, inside: bool) -> str:
    """Do ``action`` and say what happened: 'ok', 'denied' (refused) or '404'."""
    token = Auth(client).csrf("/resetmypassword/form")  # every account has this form
    if action == "add":
        dep = _dep_for(app, role, inside)
        code = f"Z{ACTIONS.index(action)}{ROLES.index(role)}{int(inside)}9"[:5]
        payload = {"code_dna": code, "type": "HUDA", "departement": str(dep), "nom": "Nouvelle",
                   "csrf_token": token}
        client.post("/structureview/add", data=payload, follow_redirects=True)
        with app.app_context():
            return "ok" if _db().scalar(select(Structure.id).where(Structure.code_dna == code)) else "denied"
    if action == "api_post":
        dep = _dep_for(app, role, inside)
        code = f"Y{ROLES.index(role)}{int(inside)}99"
        r = client.post("/api/v1/structure/", json={"code_dna": code, "type": "HUDA", "departement": dep})
        return "ok" if r.status_code == 201 else ("404" if r.status_code == 404 else "denied")
    sid, code, _dep = pick(app, role, inside, write=action in ("edit", "delete", "api_put", "api_delete"))
    if action == "list":
        body = client.get("/structureview/list/?psize=200&q=" + code).get_data(as_text=True)
        return "ok" if f'href="/structureview/show/{sid}"' in body else "404"
    if action == "show":
        return {200: "ok", 404: "404"}.get(client.get(f"/structureview/show/{sid}").status_code, "denied")
    if action == "api_get":
        return {200: "ok", 404: "404"}.get(client.get(f"/api/v1/structure/{sid}").status_code, "denied")
    if action == "edit":
        page = client.get(f"/structureview/edit/{sid}")
        if page.status_code == 404:
            return "404"
        data = read_form(page.get_data(as_text=True)) if page.status_code == 200 else {}
        client.post(f"/structureview/edit/{sid}", data={**data, "nom": "Modifiée", "csrf_token": token})
        return "ok" if _nom(app, sid) == "Modifiée" else "denied"
    if action == "api_put":
        r = client.put(f"/api/v1/structure/{sid}", json={"nom": "Par API", "version": _version(app, sid)})
        return {200: "ok", 404: "404"}.get(r.status_code, "denied")
    if action == "delete":
        r = client.post(f"/structureview/delete/{sid}", data={"csrf_token": token})
        if r.status_code == 404:
            return "404"
        return "ok" if not _exists(app, sid) else "denied"
    if action == "api_delete":
        r = client.delete(f"/api/v1/structure/{sid}")
        return {200: "ok", 404: "404"}.get(r.status_code, "denied")
    raise AssertionError(action)


def expected(role: str, action: str, inside: bool) -> str:
    reads = action in ("list", "show", "api_get")
    if not inside:
        if action in ("add", "api_post"):
            return "denied"  # creating a record outside one's territory
        if role not in EDITORS and not reads:
            return "denied"  # no right at all comes before the territory
        return "404"
    if reads:
        return "ok"
    return "ok" if role in EDITORS else "denied"


CASES = [(r, a, i) for r, a, i in itertools.product(ROLES, ACTIONS, (True, False))
         if i or r not in NATIONAL]


@pytest.mark.parametrize("role,action,inside", CASES,
                         ids=[f"{r}-{a}-{'in' if i else 'out'}" for r, a, i in CASES])
def test_role_action_scope(mapp, role, action, inside):
    client = client_for(mapp, role)
    assert run(mapp, client, role, action, inside) == expected(role, action, inside)
