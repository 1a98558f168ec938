"""Background exports: a workbook too large for the request is written by a job worker.

The request captures everything the export depends on — the user's scope, the list view's
rows (filters, search and sort applied) — in an ``ExportJob`` row, then hands the job id to
the queue (``app.jobs.queue``: a worker process on PostgreSQL, a thread of the web process on
SQLite). The worker derives the owner's scope from the account (the captured one is only
compared with it), writes the workbook to a temporary file and copies it, once complete, to
the file store (``app.documents.storage``) as ``exports/<job id>.xlsx``: a job run again after a crash
overwrites the same name, so there is never more than one copy, and any web worker of any
host serves it. Progress is recorded in the row so that any web worker can report it. Files
expire after ``BHASILE_EXPORT_KEEP_HOURS``; ``cleanup_exports`` (a scheduled job) deletes them.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

from flask import Flask, current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.jobs import register_job
from app.jobs.queue import backend, enqueue, task
from app.scope import Scope, scope_from, scope_of, scope_params
from app.sheets import BY_NAME, SHEETS
from app.documents.storage import file_store, StorageError
from models import BhasileUser
from models.base import utcnow
from models.export import DONE, EXPIRED, FAILED, PENDING, RUNNING, ExportJob

from .queries import sheet_count
from .generic import export_list

log = logging.getLogger(__name__)
#: How often (seconds) a running export records its progress.
PROGRESS_SECONDS = 0.5
#: A running export that has not reported for this long died with its process.
STALE_MINUTES = 30
#: Expired and failed exports stay listed in « Mes exports » this long.
HISTORY_DAYS = 30
#: Exports written at the same time by one web process (keep requests responsive); SQLite
#: (development) writes one at a time, as a streamed read locks the file against writes.
_SLOTS = {"sqlite": threading.BoundedSemaphore(1)}
_DEFAULT_SLOTS = threading.BoundedSemaphore(2)


def stored_name(job_id: int) -> str:
    """The name of a job's file in the file store (the same for every run of the job)."""
    return f"exports/{int(job_id)}.xlsx"


def workbook_rows(session: Any, scope: Scope) -> int:
    """How many rows the full workbook of ``scope`` holds (one count per sheet)."""
    return sum(sheet_count(session, sheet, scope) for sheet in SHEETS)


def find_running(owner_id: int, kind: str, params: dict) -> Optional[ExportJob]:
    """The same export by the same user still being written (a reload or a double click)."""
    text = json.dumps(params, sort_keys=True, default=str)
    return db.session.scalars(select(ExportJob).where(
        ExportJob.owner_id == owner_id, ExportJob.kind == kind, ExportJob.params == text,
        ExportJob.status.in_((PENDING, RUNNING))).order_by(ExportJob.id.desc()).limit(1)).first()


def create_job(owner_id: int, kind: str, title: str, params: dict, rows_total: int) -> ExportJob:
    job = ExportJob(owner_id=owner_id, kind=kind, title=title[:255], rows_total=rows_total,
                    params=json.dumps(params, sort_keys=True, default=str), status=PENDING)
    db.session.add(job)
    db.session.commit()
    return job


def start(app: Flask, job_id: int) -> Optional[threading.Thread]:
    """Hand the export to the job queue (PostgreSQL), or write it in a daemon thread of this
    process (SQLite)."""
    if backend(app) == "postgresql":
        with app.app_context():
            enqueue("export", job_id=job_id)
        return None
    thread = threading.Thread(target=_run_in_app, args=(app, job_id), daemon=True,
                              name=f"bhasile-export-{job_id}")
    thread.start()
    return thread


def _run_in_app(app: Flask, job_id: int) -> None:
    with app.app_context(), _SLOTS.get(db.engine.dialect.name, _DEFAULT_SLOTS):
        try:
            run(job_id)
        finally:
            db.session.remove()


class Progress:
    """Records rows written (and the sheet) in the job row, at most every PROGRESS_SECONDS."""

    def __init__(self, job_id: int):
        self.job_id, self.rows, self.sheet, self._last = job_id, 0, None, 0.0
        # SQLite: a streamed read holds the file's shared lock; a write from another
        # connection would wait for it, so progress is recorded between sheets only.
        self.live = db.engine.dialect.name != "sqlite"

    def __call__(self, sheet: str, rows: int) -> None:
        changed = sheet != self.sheet
        self.sheet, self.rows = sheet, self.rows + rows
        now = time.monotonic()
        if changed or (self.live and now - self._last >= PROGRESS_SECONDS):
            self._last = now
            try:
                self.save()
            except SQLAlchemyError:  # progress is informative: never fail the export for it
                log.warning("Avancement de l'export %s non enregistré.", self.job_id, exc_info=True)

    def save(self, **values) -> None:
        with db.engine.begin() as conn:
            conn.execute(update(ExportJob).where(ExportJob.id == self.job_id).values(
                rows_done=self.rows, sheet=self.sheet, updated_at=utcnow(), **values))


def run(job_id: int) -> None:
    """Write the export of job ``job_id`` (in an app context); the job row tells how it ended."""
    job = db.session.get(ExportJob, job_id)
    # RUNNING: run again after its worker died (the queue hands a job to one worker at a time)
    if job is None or job.status not in (PENDING, RUNNING):
        return
    params = json.loads(job.params)
    job.status, job.updated_at, job.rows_done = RUNNING, utcnow(), 0
    db.session.commit()
    final = stored_name(job.id)
    _remove_parts(job.id)  # a previous attempt's, when its worker was killed on this host
    fd, part = tempfile.mkstemp(prefix=_part_prefix(job.id), suffix=".xlsx", dir=_parts_folder())
    os.close(fd)
    progress = Progress(job_id)
    try:
        if not scope_unchanged(job):
            raise PermissionError("le périmètre du demandeur a changé depuis la demande")
        scope = scope_of(db.session.get(BhasileUser, job.owner_id))  # never the captured one
        rows = _write(job.kind, params, part, progress, scope=scope)
        file_store().put_file(final, part)
    except Exception as exc:  # noqa: BLE001 — any failure is recorded, no partial file stays
        db.session.rollback()
        log.exception("Échec de l'export %s", job_id)
        progress.save(status=FAILED, finished_at=utcnow(), error=f"{type(exc).__name__}: {exc}"[:2000])
        return
    finally:
        with contextlib.suppress(OSError):
            os.unlink(part)  # the temporary file, copied to the store or not
    now = utcnow()
    hours = current_app.config.get("BHASILE_EXPORT_KEEP_HOURS", 24)
    progress.rows = rows
    progress.save(status=DONE, rows_total=rows, file_path=final, finished_at=now,
                  expires_at=now + dt.timedelta(hours=hours))
    return None


@task("export")
def _export(job_id: int) -> None:
    run(int(job_id))


def _parts_folder() -> Path:
    """This host's folder of exports being written (the instance's, not the shared /tmp: its
    leftovers are swept by job id, and ids are those of this instance's database)."""
    folder = Path(current_app.config["INSTANCE_DIR"]) / "exports-en-cours"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _part_prefix(job_id: int) -> str:
    return f"bhasile-export-{job_id}-"


def _remove_parts(job_id: Optional[int] = None) -> int:
    """Delete the temporary files a killed worker left on this host (SIGKILL runs no
    ``finally``): those of job ``job_id``, or those of every job not waiting or running any
    more. Returns how many."""
    folder = _parts_folder()
    if job_id is not None:
        parts = list(folder.glob(f"{_part_prefix(job_id)}*.xlsx"))
    else:
        alive = set(db.session.scalars(select(ExportJob.id).where(ExportJob.status.in_((PENDING, RUNNING)))))
        parts = [p for p in folder.glob("bhasile-export-*-*.xlsx")
                 if p.name.split("-")[2].isdigit() and int(p.name.split("-")[2]) not in alive]
    removed = 0
    for part in parts:
        with contextlib.suppress(OSError):
            part.unlink()
            removed += 1
    return removed


def _write(kind: str, params: dict, target: str, progress: Progress,
           scope: Optional[Scope] = None) -> int:
    # lazy: read at call time — tests replace exports.workbook.export_workbook
    from .workbook import export_view, export_workbook

    scope = scope if scope is not None else scope_from(params["scope"])
    user = params.get("user")
    if kind == "classeur":
        counts = export_workbook(db.session, target, scope, user=user, progress=progress)
        return sum(counts.values())
    sort = tuple(params["sort"]) if isinstance(params.get("sort"), list) else params.get("sort")
    if params.get("sheet"):
        return export_view(db.session, target, BY_NAME[params["sheet"]], scope, params["ids"], user,
                           params.get("filters"), sort, progress=progress,
                           view_columns=params.get("columns", ()), hidden=params.get("hidden", ()))
    view = next(v for v in current_app.appbuilder.baseviews
                if v.__class__.__name__ == params["view"])
    return export_list(db.session, target, view, params["ids"], user, params.get("filters"), sort,
                       scope=scope, progress=progress, columns=params.get("columns"))


@register_job("export_cleanup")
def cleanup_exports(now: Optional[dt.datetime] = None) -> int:
    """Delete expired export files and mark them expired; a job silent for STALE_MINUTES
    (its process died) fails; jobs ended HISTORY_DAYS ago are forgotten. Returns the number
    of jobs that expired or failed."""
    now = now or utcnow()
    changed = 0
    expired = db.session.scalars(select(ExportJob).where(
        ExportJob.status == DONE, ExportJob.expires_at <= now)).all()
    for job in expired:
        if job.file_path:
            remove_file(job.file_path)
        job.status, job.file_path, job.updated_at = EXPIRED, None, now
        changed += 1
    stale = db.session.scalars(select(ExportJob).where(
        ExportJob.status.in_((PENDING, RUNNING)),
        ExportJob.updated_at <= now - dt.timedelta(minutes=STALE_MINUTES))).all()
    for job in stale:
        job.status, job.finished_at, job.updated_at = FAILED, now, now
        job.error = "interrompu (processus arrêté)"
        changed += 1
    # the list of a user's exports keeps a month of history
    db.session.execute(delete(ExportJob).where(
        ExportJob.status.in_((EXPIRED, FAILED)),
        ExportJob.updated_at <= now - dt.timedelta(days=HISTORY_DAYS)))
    db.session.commit()
    _remove_orphans(now)
    _remove_parts()  # of the jobs just declared failed, or run again and ended elsewhere
    return changed


def remove_file(name: str) -> None:
    """Delete an export's file: a name of the file store (a path of an older version)."""
    if os.path.isabs(name):
        Path(name).unlink(missing_ok=True)
        return
    try:
        file_store().delete(name)
    except StorageError:
        log.warning("Fichier d'export %s non supprimé.", name, exc_info=True)


def _remove_orphans(now: dt.datetime) -> None:
    """Files no job points to any more (a crash between copy and record), after a day."""
    known = set(db.session.scalars(select(ExportJob.file_path).where(ExportJob.file_path.is_not(None))))
    limit = (now - dt.timedelta(days=1)).replace(tzinfo=dt.timezone.utc).timestamp()
    try:
        for name, mtime in list(file_store().listing("exports")):
            if name not in known and mtime < limit:
                file_store().delete(name)
    except StorageError:
        log.warning("Fichiers d'export orphelins non vérifiés.", exc_info=True)


def recent_jobs(owner_id: int, limit: int = 20) -> list[ExportJob]:
    return list(db.session.scalars(select(ExportJob).where(ExportJob.owner_id == owner_id)
                                   .order_by(ExportJob.id.desc()).limit(limit)))


def owned_job(job_id: int, owner_id: int) -> Optional[ExportJob]:
    """The job, only for its owner (anyone else: nothing, hence 404)."""
    job = db.session.get(ExportJob, job_id, populate_existing=True)
    return job if job is not None and job.owner_id == owner_id else None


def scope_unchanged(job: ExportJob) -> bool:
    """Whether the owner's territory is still the one captured with the request: a job
    neither writes nor hands out rows its owner may no longer see."""
    owner = db.session.get(BhasileUser, job.owner_id)
    captured = json.loads(job.params).get("scope")
    return owner is not None and owner.active and scope_params(scope_of(owner)) == captured

