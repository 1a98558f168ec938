"""Scheduled jobs: nightly rebuild of the aggregates, rebuild after changes, convention roll-over.

Every job is a plain function run through ``run_job``, which takes the database lock
(``app.jobs.job_lock``), skips a scheduled slot another process already ran, records the run in
``job_run`` (start, end, duration, rows, status, error) and never lets a failure touch the
previous aggregates (the rebuild is one transaction). ``request_rebuild()`` is what imports
and grid saves call: it writes a request that any scheduler picks up within a minute
(debounced: a burst of saves gives one rebuild).
"""
from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from typing import Callable, Optional

from flask import Flask, current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from models import Convention, JobLock, JobRun
from models.base import utcnow
from models.enums import DONE, FAILED, RUNNING, StatutConvention

from app.pilotage.aggregates import rebuild
from app.audit import audit_context
from app.extensions import db
from app.heures import paris_time
from app.jobs.job_lock import DatabaseLock, holder_name
from app.jobs.queue import task

log = logging.getLogger(__name__)

REQUEST = "request:rebuild"
#: A request waits for this many seconds without a new save before it runs…
QUIET_SECONDS = 20
#: …but never longer than this after the first save of a burst.
MAX_WAIT_SECONDS = 45
#: How often each scheduler looks for a pending request.
POLL_SECONDS = 10
JOB_LABELS = {"rebuild": _l("Recalcul des indicateurs"), "rollover": _l("Échéance des conventions"),
              "export_cleanup": _l("Nettoyage des exports expirés")}


def rebuild_job() -> int:
    """Rebuild every aggregate table; returns the number of rows written."""
    counts = rebuild(db.engine, config=current_app.config.get("BHASILE_SEUILS"))
    return sum(counts.values())


def rollover_job(today: Optional[dt.date] = None) -> int:
    """Signed conventions whose end date has passed become ``ECHUE`` (history recorded)."""
    today = today or dt.date.today()
    with audit_context("job", username="tâche planifiée"):
        due = db.session.scalars(select(Convention).where(
            Convention.statut == StatutConvention.SIGNEE, Convention.date_fin < today)).all()
        for convention in due:
            convention.statut = StatutConvention.ECHUE
        db.session.commit()
    return len(due)


#: name → function returning the rows it changed; « export_cleanup » is registered by
#: exports.jobs (``register_job``), which deletes the background exports' expired files.
JOBS: dict[str, Callable[[], int]] = {"rebuild": rebuild_job, "rollover": rollover_job}


def register_job(name: str) -> Callable[[Callable[[], int]], Callable[[], int]]:
    """Register a scheduled job defined in a higher layer (it is imported by create_app)."""

    def register(func: Callable[[], int]) -> Callable[[], int]:
        JOBS[name] = func
        return func

    return register


def _already_ran(name: str, slot: str) -> bool:
    with db.engine.connect() as conn:
        return conn.scalar(select(JobRun.id).where(
            JobRun.job == name, JobRun.slot == slot,
            JobRun.status.in_((DONE, RUNNING))).limit(1)) is not None


def _record_start(name: str, slot: Optional[str], trigger: str) -> int:
    with db.engine.begin() as conn:
        return conn.execute(insert(JobRun).values(
            job=name, slot=slot, declencheur=trigger, started_at=utcnow(), status=RUNNING,
            host=holder_name()).returning(JobRun.id)).scalar_one()


def _record_end(run_id: int, started: float, status: str, rows: Optional[int] = None,
                error: Optional[str] = None) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(JobRun).where(JobRun.id == run_id).values(
            ended_at=utcnow(), duration_ms=int((time.perf_counter() - started) * 1000),
            rows=rows, status=status, error=error))


def run_job(name: str, trigger: str, slot: Optional[str] = None) -> Optional[int]:
    """Run job ``name`` once (lock + slot); returns the run id, or None when skipped."""
    lock = DatabaseLock(db.engine, name)
    if not lock.acquire():
        log.info("Tâche %s déjà en cours ailleurs : ignorée.", name)
        return None
    try:
        if slot and _already_ran(name, slot):
            return None
        if name == "rebuild":
            if trigger == "auto" and not request_due():
                return None
            _clear_request()
        run_id = _record_start(name, slot, trigger)
        started = time.perf_counter()
        try:
            rows = JOBS[name]()
        except Exception as exc:  # noqa: BLE001 — any failure is recorded, the previous data stays
            db.session.rollback()
            log.exception("Échec de la tâche %s", name)
            _record_end(run_id, started, FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
            return run_id
        _record_end(run_id, started, DONE, rows=rows)
        return run_id
    finally:
        lock.release()


def request_rebuild(reason: str = "modification") -> None:
    """Ask for a rebuild of the aggregates within a minute (call it after your commit)."""
    now = utcnow()
    try:
        with db.engine.begin() as conn:
            done = conn.execute(update(JobLock).where(JobLock.name == REQUEST)
                                .values(requested_at=now)).rowcount
            if not done:
                conn.execute(insert(JobLock).values(name=REQUEST, first_requested_at=now,
                                                    requested_at=now, holder=reason[:100]))
    except IntegrityError:
        pass  # another process recorded the request at the same moment
    except SQLAlchemyError:
        log.warning("Demande de recalcul non enregistrée (%s).", reason, exc_info=True)


#: Tables the aggregates are computed from: a committed change to one asks for a rebuild.
WATCHED_TABLES = {"structure", "places_annee", "budget_annee", "activite_mensuelle", "adresse",
                  "adresse_annee", "operateur"}


def _note_changes(session: Session, _flush_context) -> None:
    for obj in itertools.chain(session.new, session.dirty, session.deleted):
        if getattr(obj, "__tablename__", None) in WATCHED_TABLES:
            session.info["bhasile_rebuild"] = True
            return


def _after_commit(session: Session) -> None:
    if session.info.pop("bhasile_rebuild", False) and has_app_context():
        request_rebuild("enregistrement")


def _after_rollback(session: Session) -> None:
    session.info.pop("bhasile_rebuild", None)


# Every path that saves through the ORM (forms, API, grid, imports) asks for a rebuild on commit.
event.listen(Session, "after_flush", _note_changes)
event.listen(Session, "after_commit", _after_commit)
event.listen(Session, "after_rollback", _after_rollback)


def pending_request() -> Optional[JobLock]:
    """The pending rebuild request, if any."""
    return db.session.get(JobLock, REQUEST, populate_existing=True)


def request_due(now: Optional[dt.datetime] = None) -> bool:
    """Is there a request whose burst is over (quiet period) or that waited long enough?"""
    now = now or utcnow()
    with db.engine.connect() as conn:
        row = conn.execute(select(JobLock.first_requested_at, JobLock.requested_at)
                           .where(JobLock.name == REQUEST)).first()
    if row is None:
        return False
    first, last = row
    return (now - last).total_seconds() >= QUIET_SECONDS or \
        (now - (first or last)).total_seconds() >= MAX_WAIT_SECONDS


def _clear_request() -> None:
    with db.engine.begin() as conn:
        conn.execute(delete(JobLock).where(JobLock.name == REQUEST))


def paris(value: Optional[dt.datetime]) -> str:
    """A UTC timestamp of the run table, as Paris time text (« – » when empty)."""
    return paris_time(value, seconds=True)


def in_app(app: Flask, func: Callable, *args) -> None:
    """Run ``func`` inside an app context (scheduler threads have none)."""
    with app.app_context():
        try:
            func(*args)
        finally:
            db.session.remove()


@task("scheduled")
def _scheduled(name: str, trigger: str, slot: Optional[str] = None) -> None:
    run_job(name, trigger, slot)
