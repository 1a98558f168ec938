"""Test databases: one template built per run (schema, reference, roles, demo park, accounts),
cloned for each test module that writes. SQLite by default; PostgreSQL with
``BHASILE_TEST_DATABASE=postgresql`` (database names from ``BHASILE_TEST_DB_PREFIX``, plus the
pytest-xdist worker's name, so that parallel workers never drop each other's databases)."""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import sqlalchemy as sa

BACKEND = os.environ.get("BHASILE_TEST_DATABASE", "sqlite")
PG_SERVER = os.environ.get("BHASILE_TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1... under ``pytest -n``
PREFIX = os.environ.get("BHASILE_TEST_DB_PREFIX", "bhasile_test") + (f"_{WORKER}" if WORKER else "")
PASSWORD = "motdepasse-de-test-2026"


def _pg_admin():
    return sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")


def new_url(tmp: Path, name: str) -> str:
    if BACKEND == "postgresql":
        return f"{PG_SERVER}/{PREFIX}_{name}"
    return f"sqlite:///{tmp / (name + '.db')}"


def create_empty(tmp: Path, name: str) -> str:
    url = new_url(tmp, name)
    if BACKEND == "postgresql":
        engine = _pg_admin()
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PREFIX}_{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{PREFIX}_{name}"'))
        engine.dispose()
    return url


def clone(template_url: str, tmp: Path, name: str | None = None) -> str:
    name = name or "c" + uuid.uuid4().hex[:10]
    url = new_url(tmp, name)
    if BACKEND == "postgresql":
        engine = _pg_admin()
        template = template_url.rsplit("/", 1)[1]
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PREFIX}_{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{PREFIX}_{name}" TEMPLATE "{template}"'))
        engine.dispose()
    else:
        shutil.copyfile(template_url.removeprefix("sqlite:///"), tmp / f"{name}.db")
    return url


def reset(template_url: str, url: str) -> None:
    """Give the database at ``url`` (made by :func:`clone`) the template's content again: the
    caller has closed every connection to it (``engine.dispose()``)."""
    if BACKEND == "postgresql":
        name, template = url.rsplit("/", 1)[1], template_url.rsplit("/", 1)[1]
        engine = _pg_admin()
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        engine.dispose()
    else:
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(template_url.removeprefix("sqlite:///"), path)


def drop_all_test_databases() -> None:
    if BACKEND != "postgresql":
        return
    engine = _pg_admin()
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                             {"p": f"{PREFIX}\\_%"}).scalars().all()
        for db_name in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
    engine.dispose()
