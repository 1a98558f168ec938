"""Permissions are read once per request, and still enforced on every check and every request."""
from __future__ import annotations

from sqlalchemy import event, select

from tests.conftest import client_for


def _first_structure(application) -> int:
    with application.app_context():
        from app.extensions import db
        from models import Structure

        pk = db.session.scalar(select(Structure.id).order_by(Structure.id).limit(1))
        db.session.remove()
        return pk


def test_reader_cannot_edit_and_admin_can(app):
    pk = _first_structure(app)
    assert client_for(app, "lecteur").get(f"/structureview/edit/{pk}").status_code != 200
    assert client_for(app, "admin").get(f"/structureview/edit/{pk}").status_code == 200


def test_a_page_checks_permissions_with_one_query(app):
    pk = _first_structure(app)
    client = client_for(app, "centrale")
    client.get(f"/structureview/show/{pk}")
    statements: list[str] = []
    with app.app_context():
        from app.extensions import db

        engine = db.engine
    listener = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(f"/structureview/show/{pk}").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert sum("ab_permission_view_role" in s for s in statements) == 1


def test_revoked_permission_applies_from_the_next_request(fresh_app):
    client = client_for(fresh_app, "lecteur")
    assert client.get("/structureview/list/").status_code == 200
    with fresh_app.app_context():
        sm = fresh_app.appbuilder.sm
        role = sm.find_role("Lecteur")
        role.permissions = [p for p in role.permissions
                            if not (p.view_menu.name == "StructureView" and p.permission.name == "can_list")]
        sm.session.commit()
        sm.session.remove() if hasattr(sm.session, "remove") else None
    assert client.get("/structureview/list/").status_code != 200
