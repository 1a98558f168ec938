"""Beyond one machine: two app instances (gunicorn processes on two ports, their own instance
folders), one PostgreSQL database, one S3-compatible server (moto on the loopback), two job
workers (``flask bhasile worker``). What one host starts, the other follows, serves and finishes.

PostgreSQL only (the job queue lives there; on SQLite jobs run in the web process): skipped on
SQLite runs, never on the PostgreSQL run.
"""
from __future__ import annotations

import io
import os
import signal
import time

import pytest
from openpyxl import load_workbook

from tests import dbutil
from tests.cluster import Browser, Processes, S3Server, base_env
from tests.conftest import SAMPLES, make_app, run_cli

pytestmark = pytest.mark.skipif(dbutil.BACKEND != "postgresql",
                                reason="the job queue needs PostgreSQL (BHASILE_TEST_DATABASE)")
XLSX_MAGIC = b"PK\x03\x04"


@pytest.fixture(scope="module")
def cluster(template_db, tmp_path_factory):
    """Two hosts on the ×1 demo park: web A and B, workers 1 and 2."""
    url, tmp = template_db
    work = tmp_path_factory.mktemp("cluster")
    database = dbutil.clone(url, tmp, "cluster")
    with S3Server() as s3:
        env = base_env(database, work, {**s3.env("hotes"), "BHASILE_EXPORT_SYNC_MAX_ROWS": "5",
                                         "BHASILE_IMPORT_BACKGROUND_BYTES": "1"})
        procs = Processes(work)
        try:
            a, b = procs.web("web-a", env), procs.web("web-b", env)
            procs.worker("worker-1", env)
            procs.worker("worker-2", env)
            yield {"a": a, "b": b, "s3": s3, "procs": procs}
        finally:
            procs.stop()


def test_an_export_requested_on_a_is_downloaded_from_b_and_only_by_its_owner(cluster):
    a, b = cluster["a"], cluster["b"]
    agent = Browser("calvados", dbutil.PASSWORD, a)
    job = agent.request_export(a)
    state = agent.wait_export(b, job)  # followed on the other host
    assert state["status"] == "termine", state
    response = agent.get(b + state["download_url"])
    assert response.status_code == 200 and response.content.startswith(XLSX_MAGIC)
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    assert len(book.sheetnames) > 1
    assert cluster["s3"].keys(f"hotes/exports/{job}") == [f"hotes/exports/{job}.xlsx"]
    # another agent, on either host: the job and its file do not exist for them
    other = Browser("normandie", dbutil.PASSWORD, b)
    for base in (a, b):
        assert other.get(base + state["download_url"]).status_code == 404
        assert other.get(f"{base}/exporter/suivi/{job}/etat.json").status_code == 404
    # a forged id: 404 too
    assert agent.get(f"{b}/exporter/suivi/{job + 1000}/fichier").status_code == 404


def test_an_import_uploaded_on_a_is_previewed_and_applied_on_b(cluster):
    a, b = cluster["a"], cluster["b"]
    agent = Browser("normandie", dbutil.PASSWORD, a)
    data = (SAMPLES / "classeur-exemple.xlsx").read_bytes()
    batch = agent.upload(a, data, "classeur-exemple.xlsx")
    state = agent.wait_batch(b, batch)
    assert state["status"] == "apercu", state
    stored = cluster["s3"].keys("hotes/imports/")
    assert stored and all(not k.endswith("classeur-exemple.xlsx") for k in stored)  # random names
    assert agent.get(f"{b}/imports/{batch}/original").content == data
    token = agent.csrf(f"{b}/imports/{batch}/")
    response = agent.post(f"{b}/imports/{batch}/appliquer", data={"csrf_token": token})
    assert response.status_code == 302
    state = agent.wait_batch(a, batch)
    assert state["status"] == "applique", state
    # another agent cannot read the batch nor its original on either host
    other = Browser("calvados", dbutil.PASSWORD, b)
    assert other.get(f"{a}/imports/{batch}/original").status_code == 404


@pytest.fixture(scope="module")
def cluster_x10(tmp_path_factory):
    """Two hosts on the ×10 demo park (its own database), for a long export."""
    work = tmp_path_factory.mktemp("cluster10")
    template = os.environ.get("BHASILE_TEST_X10_TEMPLATE")  # a ×10 base made before (a rerun)
    if template:
        database = dbutil.clone(f"{dbutil.PG_SERVER}/{template}", work, "x10")
    else:
        database = dbutil.create_empty(work, "x10")
    app = make_app(database, work)
    assert run_cli(app, "bhasile", "init").exit_code == 0
    if not template:
        assert run_cli(app, "bhasile", "demo", "--scale", "10").exit_code == 0
    import sqlalchemy as sa

    engine = sa.create_engine(database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # planner statistics of the fresh park (autovacuum is slower)
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    with app.app_context():
        from app.cli import create_demo_users
        from app.extensions import db

        create_demo_users(lambda: dbutil.PASSWORD)
        db.session.remove()
        db.engine.dispose()
    with S3Server() as s3:
        env = base_env(database, work, {**s3.env("x10"), "BHASILE_EXPORT_SYNC_MAX_ROWS": "5"})
        procs = Processes(work)
        try:
            a, b = procs.web("web-a", env), procs.web("web-b", env)
            workers = [procs.worker("worker-1", env), procs.worker("worker-2", env)]
            yield {"a": a, "b": b, "s3": s3, "procs": procs, "workers": workers}
        finally:
            procs.stop()


def test_a_worker_killed_in_the_middle_of_a_x10_export_is_replaced_by_the_other(cluster_x10):
    a, b, procs = cluster_x10["a"], cluster_x10["b"], cluster_x10["procs"]
    agent = Browser("admin", dbutil.PASSWORD, a)
    job = agent.request_export(a)
    deadline = time.monotonic() + 120
    state = agent.export_state(b, job)
    while time.monotonic() < deadline and not (state["status"] == "en_cours" and state["rows_done"] > 0):
        time.sleep(0.05)
        state = agent.export_state(b, job)
    assert state["status"] == "en_cours" and not state["finished"], state
    marker = f"Tâche export commencée (processus"
    busy = [w for w in cluster_x10["workers"] if marker in procs.log(w.bhasile_name)]
    assert len(busy) == 1, [procs.log(w.bhasile_name)[-500:] for w in cluster_x10["workers"]]
    os.kill(busy[0].pid, signal.SIGKILL)  # mid-export: no goodbye, no heartbeat any more
    busy[0].wait()
    survivor = next(w for w in cluster_x10["workers"] if w is not busy[0])
    state = agent.wait_export(b, job, timeout=600)
    assert state["status"] == "termine", state
    assert marker in procs.log(survivor.bhasile_name)
    assert cluster_x10["s3"].keys("x10/exports/") == [f"x10/exports/{job}.xlsx"]  # one copy
    response = agent.get(a + state["download_url"])
    assert response.status_code == 200 and response.content.startswith(XLSX_MAGIC)
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    assert len(book.sheetnames) > 1 and state["rows_done"] == state["rows_total"] > 0
