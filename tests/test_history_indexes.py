"""The history table carries the indexes of the queries the pages make, and those queries use them.

Every import writes ~11 history rows per row it creates: an index no page reads is paid on each
of them (models/historique.py says which page reads which index).
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from tests import dbutil

POSTGRESQL = dbutil.BACKEND == "postgresql"


def _plan(conn, query) -> str:
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    if POSTGRESQL:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")   # a small table: ask what it may use
        return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    return "\n".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))


def test_the_history_table_has_the_pages_indexes_only(app):
    with app.app_context():
        from app.extensions import db

        with db.engine.connect() as conn:
            names = {ix["name"] for ix in sa.inspect(conn).get_indexes("changement")}
    assert names == {"ix_changement_structure_at", "ix_changement_entity_update", "ix_changement_at"}


def test_conflict_messages_read_the_partial_index_of_updates(app):
    """app.locking.changes_since: the updates of one record, through the partial index (its
    condition written as a literal, so that SQLite and PostgreSQL may use it)."""
    with app.app_context():
        from app.extensions import db
        from app.locking import UPDATES
        from models import Changement

        query = sa.select(Changement.at).where(Changement.entity == "structure",
                                               Changement.entity_id == 1, UPDATES)
        with db.engine.begin() as conn:
            assert "ix_changement_entity_update" in _plan(conn, query)


def test_a_structures_history_and_a_time_span_use_their_indexes(app):
    with app.app_context():
        from app.extensions import db
        from models import Changement

        fiche = sa.select(Changement.id).where(Changement.structure_id == 1).order_by(Changement.at.desc())
        since = dt.datetime(2026, 1, 1)
        span = sa.select(Changement.entity, Changement.entity_id).where(
            Changement.at > since, Changement.entity.in_(["structure", "places_annee"]))
        with db.engine.begin() as conn:
            assert "ix_changement_structure_at" in _plan(conn, fiche)
            plan = _plan(conn, span)
            if POSTGRESQL:   # BRIN: chosen over B-trees once the table has block ranges to skip
                assert "Seq Scan" not in plan
                assert "USING brin" in conn.exec_driver_sql(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_changement_at'").scalar()
            else:
                assert "ix_changement_at" in plan
