"""The write gate asked for a whole file: one query per model and kind, whatever the rows."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import select


def test_a_big_batch_asks_the_territory_once_with_the_same_answers(app, monkeypatch):
    """Beyond one chunk of ids, the gate reads the territory's ids in one query instead of one
    query per chunk (the preview's statements do not grow with the rows)."""
    import app.gate as gate_module
    from app.extensions import db
    from app.gate import Gate
    from imports.cli import user_scope
    from models import Departement, PlacesAnnee, Structure

    def places(codes):
        return db.session.scalars(select(PlacesAnnee.id).join(Structure).join(Departement)
                                  .where(Departement.code.in_(codes)).order_by(PlacesAnnee.id).limit(30)).all()

    with app.app_context():
        scope, _user = user_scope("normandie")
        ids = places(["14", "50"]) + places(["75", "13"])
        expected = {i: Gate(scope, db.session).inside(PlacesAnnee, i, "write") for i in ids}
        monkeypatch.setattr(gate_module, "_CHUNK", 10)
        seen = []

        def count(_conn, _cursor, statement, *_args):
            seen.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            batch = Gate(scope, db.session)
            batch.preload(PlacesAnnee, ids, "write")
            answers = {i: batch.inside(PlacesAnnee, i, "write") for i in ids}
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        db.session.rollback()
    assert answers == expected and sum(expected.values()) == 30
    assert len(seen) == 1
