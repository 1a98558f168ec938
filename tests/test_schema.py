"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from flask_appbuilder import Model
from tests import dbutil
from tests.conftest import make_app, run_cli


def include_name(name, type_, parent_names) -> bool:
    """The structures' search index (FTS5 table and its shadow tables on SQLite, a trigram-indexed
    table on PostgreSQL) belongs to the migration alone: no model describes it."""
    return not (type_ == "table" and name.startswith("structure_recherche"))


def test_migrations_match_models(tmp_path):
    app = make_app(dbutil.create_empty(tmp_path, "migr"), tmp_path)
    with app.app_context():
        from flask_migrate import upgrade

        from app.extensions import db

        upgrade(directory=app.extensions["migrate"].directory)
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "include_name": include_name})
            diff = compare_metadata(ctx, Model.metadata)
        db.engine.dispose()
    assert diff == []


def test_init_loads_reference_without_business_data(tmp_path):
    app = make_app(dbutil.create_empty(tmp_path, "init"), tmp_path)
    result = run_cli(app, "bhasile", "init")
    assert result.exit_code == 0, result.output
    assert run_cli(app, "bhasile", "init").exit_code == 0  # idempotent
    with app.app_context():
        from app.extensions import db
        from models import Departement, Region, Structure
        from models.enums import Role

        codes = set(db.session.scalars(select(Departement.code)))
        assert len(codes) == 101 and {"01", "2A", "2B", "974", "976"} <= codes
        assert db.session.query(Region).count() == 18
        assert db.session.query(Structure).count() == 0
        for role in Role:
            assert app.appbuilder.sm.find_role(role.value) is not None
        db.engine.dispose()


@pytest.mark.parametrize("field,value", [("places_autorisees", -1), ("pmr", -3)])
def test_counts_cannot_be_negative(fresh_app, field, value):
    with fresh_app.app_context():
        from app.extensions import db
        from models import PlacesAnnee, Structure

        structure = db.session.scalars(select(Structure).limit(1)).one()
        db.session.add(PlacesAnnee(structure_id=structure.id, annee=1999, **{field: value}))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_structure_and_year_is_unique(fresh_app):
    with fresh_app.app_context():
        from app.extensions import db
        from models import PlacesAnnee

        existing = db.session.scalars(select(PlacesAnnee).limit(1)).one()
        db.session.add(PlacesAnnee(structure_id=existing.structure_id, annee=existing.annee))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_period_end_must_follow_start(fresh_app):
    with fresh_app.app_context():
        from app.extensions import db
        from models import Structure

        structure = db.session.scalars(select(Structure).limit(1)).one()
        structure.debut_autorisation = dt.date(2025, 1, 1)
        structure.fin_autorisation = dt.date(2024, 1, 1)
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_the_status_migration_renames_the_stored_job_runs(tmp_path):
    """Runs recorded as « SUCCES », « EN_COURS », « ECHEC » before the upgrade read « termine »,
    « en_cours », « echec » after it (the words the code now writes), and the downgrade gives
    the old words back."""
    app = make_app(dbutil.create_empty(tmp_path, "statuts"), tmp_path)
    with app.app_context():
        from flask_migrate import downgrade, upgrade
        from sqlalchemy import text

        from app.extensions import db

        directory = app.extensions["migrate"].directory
        upgrade(directory=directory, revision="a9d4e6f1b3c7")
        with db.engine.begin() as conn:
            for status in ("SUCCES", "EN_COURS", "ECHEC"):
                conn.execute(text("INSERT INTO job_run (job, declencheur, started_at, status) "
                                  "VALUES ('rebuild', 'cli', CURRENT_TIMESTAMP, :s)"), {"s": status})
        upgrade(directory=directory, revision="b5f8c2d7e4a1")
        read = "SELECT status FROM job_run ORDER BY id"
        with db.engine.connect() as conn:
            after = conn.scalars(text(read)).all()
        downgrade(directory=directory, revision="a9d4e6f1b3c7")
        with db.engine.connect() as conn:
            back = conn.scalars(text(read)).all()
        db.engine.dispose()
    assert after == ["termine", "en_cours", "echec"]
    assert back == ["SUCCES", "EN_COURS", "ECHEC"]


def test_the_status_migration_renames_the_stored_import_batches(tmp_path):
    """Import batches recorded with the English statuses before the upgrade read the French
    words the code now writes after it, and the downgrade gives the old words back."""
    old = ["preview", "applied", "refused", "stale", "unusable", "checking", "applying", "failed"]
    app = make_app(dbutil.create_empty(tmp_path, "statuts_imports"), tmp_path)
    with app.app_context():
        from flask_migrate import downgrade, upgrade
        from sqlalchemy import text

        from app.extensions import db

        directory = app.extensions["migrate"].directory
        upgrade(directory=directory, revision="b5f8c2d7e4a1")
        with db.engine.begin() as conn:
            for status in old:
                conn.execute(text("INSERT INTO import_batch (created_at, filename, origin, status) "
                                  "VALUES (CURRENT_TIMESTAMP, 'x.xlsx', 'web', :s)"), {"s": status})
        upgrade(directory=directory, revision="d3e9a7c5b1f2")
        read = "SELECT status FROM import_batch ORDER BY id"
        with db.engine.connect() as conn:
            after = conn.scalars(text(read)).all()
        downgrade(directory=directory, revision="b5f8c2d7e4a1")
        with db.engine.connect() as conn:
            back = conn.scalars(text(read)).all()
        db.engine.dispose()
    assert after == ["apercu", "applique", "refuse", "perime", "inutilisable", "verification",
                     "application", "echec"]
    assert back == old
