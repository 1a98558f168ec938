"""Large imports in the background: the preview of an upload and the apply of its batch.

A file larger than ``BHASILE_IMPORT_BACKGROUND_BYTES`` is stored at once (in the file store,
``app.documents.storage``, so any host reads it) and its batch row created (status ``checking``); a job
(``app.jobs.queue``: a worker process on PostgreSQL, a thread of the web process on SQLite) previews
it, then records the outcome in the batch exactly as ``create_batch`` does. « Appliquer »
on such a batch claims it (``applying``) and applies it in a worker thread, all or nothing as
``apply_batch`` does. The pipeline tells the rows read, checked and written (``Progress``), and
the batch row holds them, at most every ``PROGRESS_SECONDS``, so that any web worker can report
them. The step runs with the scope of the user who asked for it, captured in the request
(``app.scope.current_scope()`` is nowhere outside a request), and only while that user still
has it.

A claim is one conditional UPDATE, so two « Appliquer » at once run one apply. A step that has
said nothing for ``BHASILE_IMPORT_STALE_MINUTES`` died with its process: a check is shown
failed and can be run again, an apply goes back to the preview (its transaction died with it,
so nothing was written) and can be applied again.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from flask import Flask, current_app
from sqlalchemy import and_, or_, update
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.jobs.queue import backend, enqueue, task
from app.scope import NOWHERE, Scope, scope_from, scope_of, scope_params
from models import BhasileUser
from models.base import utcnow
from models.imports import ImportBatch

from .apply import StaleRows
from .batches import apply_batch, original, record_preview, store_original
from .pipeline import ImportCommand

log = logging.getLogger(__name__)
#: How often (seconds) a running step records its progress.
PROGRESS_SECONDS = 0.5
#: Statuses of a batch whose step runs in the background, and of a check that stopped.
CHECKING, APPLYING, FAILED = "verification", "application", "echec"
RUNNING = (CHECKING, APPLYING)
#: Steps run at the same time by one web process; SQLite (development) one at a time.
_SLOTS = {"sqlite": threading.BoundedSemaphore(1)}
_DEFAULT_SLOTS = threading.BoundedSemaphore(2)
#: While waiting for a slot, a step tells it is alive this often (seconds).
_WAIT_SECONDS = 20


@dataclass(frozen=True)
class Owner:
    """Who runs a step: the scope and the account of the request that asked for it."""

    scope: Scope
    username: Optional[str]
    user_id: Optional[int]


def is_large(size: int) -> bool:
    """Whether a file of ``size`` bytes is previewed and applied in the background."""
    return size > int(current_app.config.get("BHASILE_IMPORT_BACKGROUND_BYTES", 1_000_000))


def silent_since(now: Optional[dt.datetime] = None) -> dt.datetime:
    """A running step with no news since this moment died with its process."""
    minutes = int(current_app.config.get("BHASILE_IMPORT_STALE_MINUTES", 10))
    return (now or utcnow()) - dt.timedelta(minutes=minutes)


# --- what the request does ---------------------------------------------------------------------

def start_preview(app: Flask, data: bytes, filename: str, owner: Owner,
                  year: Optional[int]) -> ImportBatch:
    """Store the file, record its batch (``checking``) and preview it in a worker thread."""
    safe = Path(filename).name[:200] or "fichier"
    stored = store_original(data, safe)
    now = utcnow()
    batch = ImportBatch(filename=safe, stored_path=stored, year=year, origin="web",
                        username=owner.username, user_id=owner.user_id, status=CHECKING,
                        progress_stage="start", started_at=now, updated_at=now)
    db.session.add(batch)
    db.session.commit()
    start(app, run_preview, batch.id, owner)
    return batch


def claim_apply(batch_id: int) -> bool:
    """Take the batch for one apply: a previewed batch, or one whose apply died; False when
    another apply holds it (or it cannot be applied)."""
    return _claim(batch_id, APPLYING, "apercu")


def claim_check(batch_id: int) -> bool:
    """Take a batch whose check stopped (or died) to check its file again."""
    return _claim(batch_id, CHECKING, FAILED)


def _claim(batch_id: int, status: str, ready: str) -> bool:
    now = utcnow()
    died = and_(ImportBatch.status == status, ImportBatch.updated_at < silent_since(now))
    taken = db.session.execute(
        update(ImportBatch).where(ImportBatch.id == batch_id, or_(ImportBatch.status == ready, died))
        .values(status=status, progress_stage="start", progress_done=0, progress_total=0,
                error=None, started_at=now, updated_at=now, finished_at=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return taken == 1


def reap(batch: ImportBatch) -> ImportBatch:
    """The batch, its step marked as ended if it died (silent for too long)."""
    if batch.status not in RUNNING or batch.updated_at is None or batch.updated_at >= silent_since():
        return batch
    now = utcnow()
    db.session.execute(
        update(ImportBatch).where(ImportBatch.id == batch.id, ImportBatch.status == batch.status,
                                  ImportBatch.updated_at < silent_since(now))
        .values(status=FAILED if batch.status == CHECKING else "apercu", progress_stage=None,
                error="interrompu : le traitement ne donnait plus de nouvelles (processus arrêté)",
                finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.refresh(batch)
    return batch


def start(app: Flask, step: Callable[[int, Owner], Any], batch_id: int,
          owner: Owner) -> Optional[threading.Thread]:
    """Hand ``step(batch_id, owner)`` to the job queue (PostgreSQL: the job carries the batch,
    the user id and, to compare only, the scope seen by the request), or run it in a daemon
    thread of this process (SQLite)."""
    if backend(app) == "postgresql":
        name = {"run_preview": "import_preview", "run_apply": "import_apply"}[step.__name__]
        with app.app_context():
            enqueue(name, batch_id=batch_id, user_id=owner.user_id, scope=scope_params(owner.scope))
        return None
    thread = threading.Thread(target=_run_in_app, args=(app, step, batch_id, owner), daemon=True,
                              name=f"bhasile-import-{batch_id}")
    thread.start()
    return thread


def _run_in_app(app: Flask, step: Callable[[int, Owner], Any], batch_id: int, owner: Owner) -> None:
    with app.app_context():
        slots = _SLOTS.get(db.engine.dialect.name, _DEFAULT_SLOTS)
        try:
            if not slots.acquire(blocking=False):
                _touch(batch_id, progress_stage="queued")
                while not slots.acquire(timeout=_WAIT_SECONDS):
                    _touch(batch_id)  # queued behind another import: still alive
            try:
                step(batch_id, owner)
            finally:
                slots.release()
        except Exception:  # noqa: BLE001 — the step records its own failures; this is the rest
            log.exception("Import %s : échec du traitement en arrière-plan", batch_id)
        finally:
            db.session.remove()


def _touch(batch_id: int, **values: Any) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(ImportBatch).where(ImportBatch.id == batch_id,
                                               ImportBatch.status.in_(RUNNING))
                     .values(updated_at=utcnow(), **values))


# --- what the worker does ----------------------------------------------------------------------

class Progress:
    """The pipeline's ``progress(stage, done, total)``, recorded in the batch row at most every
    PROGRESS_SECONDS (and at every new stage), on a connection of its own.

    Only the step that claimed the batch records anything (``started_at`` is its ticket): a
    step declared dead and run again is not overwritten by its former self.
    """

    def __init__(self, batch_id: int, ticket: Optional[dt.datetime]):
        self.batch_id, self.ticket = batch_id, ticket
        self.stage: Optional[str] = None
        self.done = self.total = 0
        self._last = 0.0
        # SQLite: the apply's transaction holds the database file; a write from another
        # connection would wait for it, so the rows written are not told there.
        self.sqlite = db.engine.dialect.name == "sqlite"

    def __call__(self, stage: str, done: int, total: int) -> None:
        changed = stage != self.stage
        self.stage, self.done, self.total = stage, done, total
        if self.sqlite and stage == "write":
            return
        now = time.monotonic()
        if changed or now - self._last >= PROGRESS_SECONDS:
            self._last = now
            try:
                self._save()
            except SQLAlchemyError:  # progress is informative: never fail the import for it
                log.warning("Avancement de l'import %s non enregistré.", self.batch_id, exc_info=True)

    def finish(self, **values: Any) -> None:
        """Record how the step ended (status, counts, error)."""
        self.stage = None
        self._save(finished_at=utcnow(), **values)

    def _save(self, **values: Any) -> None:
        with db.engine.begin() as conn:
            conn.execute(update(ImportBatch).where(ImportBatch.id == self.batch_id,
                                                   ImportBatch.started_at == self.ticket)
                         .values(progress_stage=self.stage, progress_done=self.done,
                                 progress_total=self.total, updated_at=utcnow(), **values))


def _ticket(batch_id: int, status: str) -> Optional[Progress]:
    batch = db.session.get(ImportBatch, batch_id, populate_existing=True)
    if batch is None or batch.status != status:
        return None
    return Progress(batch_id, batch.started_at)


def _check_owner(owner: Owner) -> None:
    """The step runs only while its user still has the territory captured with the request."""
    if owner.user_id is None:
        return

    user = db.session.get(BhasileUser, owner.user_id)
    if user is None or not user.active or scope_of(user) != owner.scope:
        raise PermissionError("le périmètre du demandeur a changé depuis la demande")


def _technical(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def run_preview(batch_id: int, owner: Owner) -> None:
    """Preview the stored file of a ``checking`` batch (nothing of the domain is written)."""
    progress = _ticket(batch_id, CHECKING)
    if progress is None:
        return
    batch = db.session.get(ImportBatch, batch_id)
    try:
        _check_owner(owner)
        data = original(batch)
        result = ImportCommand(data, batch.filename, owner.scope, batch.year,
                               progress=progress).validate()
        db.session.rollback()
        progress("save", 0, 0)
        status = "inutilisable" if result.problem else ("refuse" if result.errors else "apercu")
        with db.engine.begin() as conn:   # the detail, then the status that shows it
            counts = record_preview(batch_id, result, owner.scope, len(data), conn)
        outcome = {"status": status, "counts": counts}
    except Exception as exc:  # noqa: BLE001 — any failure is recorded; nothing was written
        db.session.rollback()
        log.exception("Import %s : échec de l'aperçu", batch_id)
        outcome = {"status": FAILED, "error": _technical(exc)}
    progress.finish(**outcome)


def run_apply(batch_id: int, owner: Owner) -> tuple[str, Any]:
    """Apply a claimed (``applying``) batch, all or nothing. Returns what happened: applied
    (rows written), stale (the rows named), refused or unusable, failed, or gone (not claimed)."""
    progress = _ticket(batch_id, APPLYING)
    if progress is None:
        return "gone", None
    batch = db.session.get(ImportBatch, batch_id)
    try:
        _check_owner(owner)
        result = apply_batch(batch, owner.scope, owner.username, progress=progress,
                             user_id=owner.user_id)
    except StaleRows as exc:  # apply_batch marked it stale; the agent reads which rows
        progress.finish(status="perime", error=str(exc))
        return "perime", str(exc)
    except Exception as exc:  # noqa: BLE001 — one transaction: nothing was written
        db.session.rollback()
        log.exception("Import %s : échec de l'application", batch_id)
        progress.finish(status="apercu", error=_technical(exc))
        return "echec", None
    if result.applied:
        progress.finish(status="applique")
        return "applique", len(result.changes)
    if result.open_conflicts and not (result.problem or result.errors):
        progress.finish(status="apercu")   # a conflict still without a choice: choose, then apply
        return "conflicts", len(result.open_conflicts)
    status = "inutilisable" if result.problem else "refuse"  # a choice breaks a rule, or the scope changed
    progress.finish(status=status)
    return status, None


# --- the import steps as background jobs (``app.jobs.queue``) -------------------------------------

def import_owner(user_id: Optional[int], captured: Optional[dict]) -> Owner:
    """The owner of an import step, read from the account (never from the job's arguments):
    its scope is ``scope_of`` the user now. When it differs from the one ``captured`` with the
    request, the captured one is handed on, which the step refuses (« périmètre changé »)."""
    user = db.session.get(BhasileUser, user_id) if user_id is not None else None
    if user is None:
        return Owner(NOWHERE, None, -1 if user_id is None else user_id)  # refused by the step
    scope = scope_of(user)
    if captured is not None and scope_params(scope) != captured:
        return Owner(scope_from(captured), user.username, user.id)
    return Owner(scope, user.username, user.id)


@task("import_preview")
def _import_preview(batch_id: int, user_id: Optional[int], scope: Optional[dict] = None) -> None:
    run_preview(int(batch_id), import_owner(user_id, scope))


@task("import_apply")
def _import_apply(batch_id: int, user_id: Optional[int], scope: Optional[dict] = None) -> None:
    run_apply(int(batch_id), import_owner(user_id, scope))
