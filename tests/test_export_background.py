"""Large exports run in the background: the agent follows the progress, then downloads the
same file a small export gives at once — only theirs, only their territory, never a partial file."""
from __future__ import annotations

import datetime as dt
import io
import re
import time
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from app.sheets.fingerprint import LABEL
from tests.conftest import client_for

LIST = ("/placesanneeview/list/?_flt_0_annee=2024"
        "&_oc_PlacesAnneeView=places_autorisees&_od_PlacesAnneeView=desc")


@pytest.fixture()
def small_limit(app):
    """Every export above 5 rows goes to the background."""
    previous = app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"]
    app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = 5
    yield
    app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = previous


def _export_link(client) -> str:
    html = client.get(LIST).get_data(as_text=True)
    return re.search(r'href="(/exporter/vue/PlacesAnneeView/[^"]*)"', html).group(1).replace("&amp;", "&")


def confirm(client, response):
    """The confirmation page of a large export: its form, posted with its CSRF token."""
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    form = re.search(r'<form id="bh-export-confirm" method="post" action="([^"]+)"', html)
    assert form, "no confirmation form"
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return client.post(form.group(1).replace("&amp;", "&"), data={"csrf_token": token})


def _follow(client, response, timeout: float = 120) -> list[dict]:
    """Confirms the export (the GET only asks), then polls the job's JSON status until it is
    finished; every state seen."""
    response = confirm(client, response)
    assert response.status_code == 302, response.status_code
    page = response.headers["Location"]
    job_id = re.search(r"/exporter/suivi/(\d+)/", page).group(1)
    html = client.get(page).get_data(as_text=True)
    assert "<progress" in html and 'aria-live="polite"' in html and "bhasile/exports.js" in html
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/exporter/suivi/{job_id}/etat.json").get_json()
        seen.append(state)
        if state["finished"]:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"export still running: {seen[-1]}")


def _rows(data: bytes, sheet: str) -> list[tuple]:
    """The rows' cells, less their fingerprint (it covers the instant of each export)."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows = list(book[sheet].iter_rows(values_only=True))
    cut = -1 if rows and rows[0][-1] == LABEL else None
    return [row[:cut] for row in rows[1:]]


def test_large_list_export_runs_in_background_and_gives_the_same_rows(app, login, small_limit):
    client = login("calvados")
    link = _export_link(client)
    app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = 10**6
    sync = client.get(link)
    assert sync.status_code == 200 and sync.data[:2] == b"PK"
    app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = 5
    seen = _follow(client, client.get(link))
    done = seen[-1]
    assert done["status"] == "termine" and done["percent"] == 100 and done["error"] is None
    assert done["rows_done"] == done["rows_total"] == len(_rows(sync.data, "Places"))
    assert [s["rows_done"] for s in seen] == sorted(s["rows_done"] for s in seen)
    download = client.get(done["download_url"])
    assert download.status_code == 200 and download.data[:2] == b"PK"
    assert _rows(download.data, "Places") == _rows(sync.data, "Places")
    meta = {r[0]: r[1] for r in _rows(download.data, "_bhasile")}
    assert meta["user"] == "calvados" and "2024" in meta["filters"]
    html = client.get("/exporter/mes-exports/").get_data(as_text=True)
    assert done["download_url"] in html


def test_a_reload_follows_the_export_already_running(app, login, small_limit, monkeypatch):
    from exports import jobs

    client = login("calvados")
    link = _export_link(client)
    monkeypatch.setattr(jobs, "start", lambda app, job_id: None)  # still waiting to start
    first, second = confirm(client, client.get(link)), confirm(client, client.get(link))
    assert first.headers["Location"] == second.headers["Location"]
    monkeypatch.undo()
    with app.app_context():
        jobs.run(int(re.search(r"/suivi/(\d+)/", first.headers["Location"]).group(1)))
    assert client.get(first.headers["Location"]).status_code == 200


def test_only_the_owner_sees_the_status_and_the_file(app, login, small_limit):
    owner = login("calvados")
    done = _follow(owner, owner.get(_export_link(owner)))[-1]
    job = done["id"]
    for other in ("normandie", "admin"):
        client = login(other)
        for url in (f"/exporter/suivi/{job}/", f"/exporter/suivi/{job}/etat.json", done["download_url"]):
            assert client.get(url).status_code == 404, (other, url)
    assert client_for(app, None).get(done["download_url"]).status_code in (302, 401, 403)


def test_full_workbook_in_background_holds_only_the_agents_territory(app, login, small_limit):
    client = login("normandie")
    done = _follow(client, client.get("/exporter/classeur.xlsx"))[-1]
    assert done["status"] == "termine", done
    data = client.get(done["download_url"]).data
    structures = _rows(data, "Structures")
    assert {r[5] for r in structures} == {"14", "27", "50", "61", "76"}
    codes = {r[0] for r in structures}
    assert {r[0] for r in _rows(data, "Places")} <= codes
    assert {r[0] for r in _rows(data, "Activité")} <= codes
    total = sum(len(_rows(data, s)) for s in ("Structures", "Places", "Budgets", "Activité",
                                              "Adresses", "Opérateurs", "Conventions"))
    assert done["rows_done"] == done["rows_total"] == total


def test_a_territory_withdrawn_after_the_request_stops_the_export(fresh_app, monkeypatch):
    """The job writes the territory captured with the request, and only while the account
    still has it: withdrawn in between, the export fails and no file is written."""
    fresh_app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = 5
    client = client_for(fresh_app, "calvados")
    with fresh_app.app_context():
        from app.extensions import db
        from exports import jobs
        from models import ExportJob

        monkeypatch.setattr(jobs, "start", lambda app, job_id: None)  # held until the change
        response = confirm(client, client.get("/exporter/classeur.xlsx"))
        job_id = int(re.search(r"/suivi/(\d+)/", response.headers["Location"]).group(1))
        user = fresh_app.appbuilder.sm.find_user("calvados")
        user.departements = []  # territory withdrawn after the request
        db.session.commit()
        jobs.run(job_id)
        job = db.session.get(ExportJob, job_id)
        assert job.status == "echec" and job.file_path is None and "périmètre" in job.error
    assert not list((Path(fresh_app.config["INSTANCE_DIR"]) / "exports").glob(f"{job_id}-*"))


def test_a_finished_file_is_no_longer_handed_out_once_the_territory_changes(fresh_app):
    fresh_app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = 5
    client = client_for(fresh_app, "calvados")
    done = _follow(client, client.get("/exporter/classeur.xlsx"))[-1]
    assert done["status"] == "termine"
    assert client.get(done["download_url"]).status_code == 200
    with fresh_app.app_context():
        from app.extensions import db

        user = fresh_app.appbuilder.sm.find_user("calvados")
        user.departements = []
        db.session.commit()
    assert client.get(done["download_url"]).status_code == 404


def test_a_failing_export_says_so_in_french_and_leaves_no_file(fresh_app, monkeypatch):
    from exports import jobs, workbook

    fresh_app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = 5
    folder = Path(fresh_app.config["INSTANCE_DIR"]) / "exports"

    def broken(session, target, *args, **kwargs):
        Path(target).write_bytes(b"partial")
        raise RuntimeError("disque plein")

    monkeypatch.setattr(workbook, "export_workbook", broken)
    client = client_for(fresh_app, "calvados")
    monkeypatch.setattr(jobs, "start", lambda app, job_id: None)
    response = confirm(client, client.get("/exporter/classeur.xlsx"))
    job_id = int(re.search(r"/suivi/(\d+)/", response.headers["Location"]).group(1))
    with fresh_app.app_context():
        jobs.run(job_id)
    state = client.get(f"/exporter/suivi/{job_id}/etat.json").get_json()
    assert state["status"] == "echec" and state["finished"]
    assert "L'export n'a pas pu être produit" in state["error"] and "disque" not in state["error"]
    assert state["download_url"] is None
    assert client.get(f"/exporter/suivi/{job_id}/fichier").status_code == 404
    html = client.get(f"/exporter/suivi/{job_id}/").get_data(as_text=True)
    assert "fr-alert--error" in html and "L&#39;export n&#39;a pas pu être produit" in html
    assert not list(folder.glob(f"{job_id}-*"))


def test_an_export_run_again_after_its_worker_was_killed_leaves_one_file(fresh_app, monkeypatch):
    """A worker SIGKILLed in the middle of an export leaves its temporary file (no ``finally``
    runs); the queue runs the job again: the new attempt removes the old one's file."""
    from exports import jobs

    fresh_app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = 5
    client = client_for(fresh_app, "calvados")
    monkeypatch.setattr(jobs, "start", lambda app, job_id: None)
    response = confirm(client, client.get("/exporter/classeur.xlsx"))
    job_id = int(re.search(r"/suivi/(\d+)/", response.headers["Location"]).group(1))
    parts = Path(fresh_app.config["INSTANCE_DIR"]) / "exports-en-cours"
    parts.mkdir(exist_ok=True)
    killed = parts / f"bhasile-export-{job_id}-killed.xlsx"
    killed.write_bytes(b"PK half an export")
    with fresh_app.app_context():
        from app.extensions import db
        from models import ExportJob

        db.session.get(ExportJob, job_id).status = "en_cours"  # as the killed worker left it
        db.session.commit()
        jobs.run(job_id)
    assert client.get(f"/exporter/suivi/{job_id}/etat.json").get_json()["status"] == "termine"
    assert list(parts.iterdir()) == []


def test_expired_files_are_cleaned_and_silent_jobs_fail(fresh_app):
    fresh_app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = 5
    client = client_for(fresh_app, "calvados")
    done = _follow(client, client.get("/exporter/classeur.xlsx"))[-1]
    with fresh_app.app_context():
        from app.extensions import db
        from app.jobs import run_job
        from models import ExportJob, JobRun
        from models.base import utcnow

        from app.documents.storage import file_store

        job = db.session.get(ExportJob, done["id"])
        assert job.file_path == f"exports/{job.id}.xlsx"  # a name of the file store
        path = Path(file_store().path(job.file_path))
        assert path.exists()
        stuck = ExportJob(owner_id=job.owner_id, kind="classeur", title="x.xlsx", params="{}",
                          status="en_cours", updated_at=utcnow() - dt.timedelta(hours=2))
        running = ExportJob(owner_id=job.owner_id, kind="classeur", title="z.xlsx", params="{}",
                            status="en_cours", updated_at=utcnow())
        db.session.add_all([stuck, running])
        job.expires_at = utcnow() - dt.timedelta(minutes=1)
        db.session.commit()
        # what SIGKILLed workers left on this host, and the file an export is writing now
        parts = Path(fresh_app.config["INSTANCE_DIR"]) / "exports-en-cours"
        parts.mkdir(exist_ok=True)
        left, writing = parts / f"bhasile-export-{stuck.id}-a1.xlsx", parts / f"bhasile-export-{running.id}-b2.xlsx"
        left.write_bytes(b"PK partial")
        writing.write_bytes(b"PK writing")
        run_id = run_job("export_cleanup", "cli")
        assert not left.exists() and writing.exists()
        run = db.session.get(JobRun, run_id)
        assert run.status == "termine" and run.rows == 2
        db.session.expire_all()
        assert db.session.get(ExportJob, done["id"]).status == "expire"
        assert db.session.get(ExportJob, stuck.id).status == "echec"
        assert db.session.scalars(select(ExportJob.file_path).where(
            ExportJob.id == done["id"])).one() is None
        ancient = ExportJob(owner_id=job.owner_id, kind="classeur", title="y.xlsx", params="{}",
                            status="expire", updated_at=utcnow() - dt.timedelta(days=40))
        db.session.add(ancient)
        db.session.commit()
        ancient_id = ancient.id
        run_job("export_cleanup", "cli")
        db.session.expire_all()
        assert db.session.get(ExportJob, ancient_id) is None
        assert db.session.get(ExportJob, done["id"]) is not None
    assert not path.exists()
    assert client.get(done["download_url"]).status_code == 404
    assert "expiré" in client.get(f"/exporter/suivi/{done['id']}/etat.json").get_json()["message"]


def test_a_large_export_starts_only_on_a_confirmed_post(fresh_app):
    """Opening the link (a GET, maybe from another site) only asks; a POST without the
    form's CSRF token is refused; nothing is queued until the agent confirms."""
    from app.extensions import db
    from exports import jobs
    from models import ExportJob

    fresh_app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = 5
    client = client_for(fresh_app, "calvados")
    page = client.get("/exporter/classeur.xlsx")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Lancer l'export" in html and "lignes" in html
    forged = fresh_app.test_client()  # same session cookie, no CSRF header: a forged POST
    forged.set_cookie("session", client.get_cookie("session").value)
    assert forged.post("/exporter/classeur.xlsx").status_code == 400
    with fresh_app.app_context():
        assert db.session.query(ExportJob).count() == 0
    original = jobs.start
    jobs.start = lambda app, job_id: None
    try:
        response = confirm(client, page)
    finally:
        jobs.start = original
    assert response.status_code == 302 and "/exporter/suivi/" in response.headers["Location"]
    with fresh_app.app_context():
        assert db.session.query(ExportJob).count() == 1


def test_small_exports_stay_immediate(login):
    response = login("calvados").get("/exporter/classeur.xlsx")
    assert response.status_code == 200 and response.data[:2] == b"PK"


def test_progress_is_told_sheet_by_sheet_and_batch_by_batch(app, tmp_path):
    from app.extensions import db
    from app.scope import NATIONAL
    from app.sheets import SHEETS
    from exports.workbook import export_workbook

    calls: list[tuple[str, int]] = []
    with app.app_context():
        counts = export_workbook(db.session, str(tmp_path / "w.xlsx"), NATIONAL,
                                 progress=lambda sheet, rows: calls.append((sheet, rows)))
        db.session.rollback()
    assert [s for s, n in calls if n == 0] == [s.name for s in SHEETS]
    for sheet, count in counts.items():
        batches = [n for s, n in calls if s == sheet and n]
        assert sum(batches) == count
    assert max(len([1 for s, n in calls if s == name and n]) for name in counts) > 1


def test_progress_is_recorded_in_the_job_row(fresh_app):
    with fresh_app.app_context():
        from app.extensions import db
        from exports.jobs import Progress, create_job
        from models import ExportJob

        job = create_job(1, "classeur", "x.xlsx", {}, 100)
        progress = Progress(job.id)
        progress("Structures", 0)
        progress("Structures", 40)
        progress("Places", 30)
        db.session.expire_all()
        row = db.session.get(ExportJob, job.id)
        assert (row.sheet, row.rows_done, row.percent) == ("Places", 70, 70)
