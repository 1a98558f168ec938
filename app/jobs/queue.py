"""Background jobs: one interface, a PostgreSQL queue (procrastinate) or threads of this process.

``enqueue(name, **kwargs)`` hands a job to whatever runs them:

* on PostgreSQL (``BHASILE_QUEUE=auto``, the default there), a row in procrastinate's queue;
  ``flask bhasile worker`` processes, on any host reaching the database, take the jobs one at a
  time each. A worker that dies (SIGKILL, host lost) stops beating its heartbeat: after
  ``BHASILE_WORKER_STALLED_SECONDS`` any other worker puts its jobs back in the queue, and the
  job runs again from the start (the export and import steps are written to be run again:
  same stored name, same batch ticket).
* on SQLite (the embedded default, ``make run``), or with ``BHASILE_QUEUE=thread``, a daemon
  thread of the web process runs the same function at once: nothing more to start.

Jobs carry ids only (an export job, an import batch, the owner's user id): the worker reads
the rest from the database and derives the owner's scope from the account itself
(``app.scope.scope_of``); a scope captured with the request is only ever compared with it,
never used to read rows.

Why procrastinate (rather than pgqueuer): it is the more established of the two (maintained
since 2019, documented, typed), runs plain synchronous functions in its workers (our jobs are
SQLAlchemy/openpyxl code, not asyncio), has worker heartbeats and stalled-job retry built in,
queueing locks (one pending rebuild at a time), and a versioned schema applied by its own
schema manager (``flask bhasile init``).
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Any, Callable, Optional

import click
from flask.cli import with_appcontext
from flask import Flask, current_app
from app.extensions import db

log = logging.getLogger(__name__)

#: name → function(**kwargs), run inside an app context (see ``task``).
TASKS: dict[str, Callable[..., Any]] = {}


def task(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``func`` as the job ``name`` (keyword arguments: JSON values only)."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        TASKS[name] = func
        return func

    return register


def backend(app: Optional[Flask] = None) -> str:
    """« postgresql » (the queue) or « thread » (in this process)."""
    app = app or current_app
    chosen = (app.config.get("BHASILE_QUEUE") or "auto").lower()
    if chosen == "auto":
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        return "postgresql" if url.startswith("postgresql") else "thread"
    return "postgresql" if chosen in ("postgresql", "procrastinate") else "thread"


def conninfo(app: Flask) -> str:
    """The libpq URL of the app's database (SQLAlchemy's without its driver name)."""
    from sqlalchemy.engine import make_url

    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def procrastinate_app(app: Flask):
    """The procrastinate app of this Flask app (one per process, opened on first use)."""
    proc = app.extensions.get("bhasile_queue")
    if proc is None or proc[0] != os.getpid():
        import procrastinate

        connector = procrastinate.PsycopgConnector(conninfo=conninfo(app), min_size=0, max_size=4)
        queue_app = procrastinate.App(connector=connector)
        for name in TASKS:
            _register(queue_app, app, name)
        proc = (os.getpid(), queue_app)
        app.extensions["bhasile_queue"] = proc
    return proc[1]


def _register(queue_app, app: Flask, name: str) -> None:
    def job(**kwargs: Any) -> None:
        run_task(app, name, kwargs)

    job.__name__ = job.__qualname__ = f"bhasile_{name}"
    queue_app.task(name=name, pass_context=False)(job)


def run_task(app: Flask, name: str, kwargs: dict) -> Any:
    """Run job ``name`` in an app context of its own (a worker, a thread)."""
    with app.app_context():
        log.info("Tâche %s commencée (processus %s) : %s", name, os.getpid(), kwargs)
        try:
            return TASKS[name](**kwargs)
        finally:
            db.session.remove()


def enqueue(name: str, *, queueing_lock: Optional[str] = None, **kwargs: Any) -> Optional[int]:
    """Hand job ``name`` to the queue (or a thread); returns the queue's job id (None for a
    thread, or when ``queueing_lock`` says the same job already waits)."""
    if name not in TASKS:
        raise KeyError(name)
    app = current_app._get_current_object()
    if backend(app) != "postgresql":
        threading.Thread(target=run_task, args=(app, name, kwargs), daemon=True,
                         name=f"bhasile-{name}").start()
        return None
    from procrastinate import exceptions

    proc = procrastinate_app(app)
    opened = proc.connector.get_sync_connector()
    if getattr(opened, "_pool", None) is None:
        proc.open()
    try:
        return proc.tasks[name].configure(queueing_lock=queueing_lock).defer(**kwargs)
    except exceptions.AlreadyEnqueued:
        return None


def ensure_schema(app: Flask) -> bool:
    """Apply procrastinate's schema to a PostgreSQL database that lacks it (``bhasile init``);
    True when applied."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return False
    from sqlalchemy import text


    with db.engine.connect() as conn:
        if conn.scalar(text("SELECT to_regclass('procrastinate_jobs')")) is not None:
            return False
    proc = procrastinate_app(app)
    with proc.open():
        proc.schema_manager.apply_schema()
    app.extensions.pop("bhasile_queue", None)
    return True


async def _retry_stalled(proc, every: float, stalled: float) -> None:
    """Put back in the queue the jobs of workers silent for ``stalled`` seconds (SIGKILLed,
    host lost): another worker, maybe this one, runs them again."""
    while True:
        try:
            for job in await proc.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled):
                log.warning("Tâche %s (%s) abandonnée par un worker arrêté : relancée.",
                            job.id, job.task_name)
                try:
                    await proc.job_manager.retry_job(job)
                except Exception:  # noqa: BLE001 — another worker retried it first
                    log.info("Tâche %s déjà relancée ailleurs.", job.id)
        except Exception:  # noqa: BLE001 — the database may be away for a moment
            log.warning("Recherche des tâches abandonnées impossible.", exc_info=True)
        await asyncio.sleep(every)


def _drop_queries_of_dead_clients(app: Flask) -> None:
    """A worker killed in the middle of a long query leaves PostgreSQL running it for nobody
    (it notices only when it sends rows): ask the server to check every few seconds that the
    client is still there (PostgreSQL ≥ 14), so the job run again does not share the server
    with its former self."""
    from sqlalchemy import event


    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _check_client(dbapi_connection, _record) -> None:
            try:
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SET client_connection_check_interval = 5000")
                dbapi_connection.commit()
            except Exception:  # noqa: BLE001 — an older server: nothing to set
                dbapi_connection.rollback()

        engine.dispose()  # the connections opened before this listener


def run_worker(app: Flask, name: Optional[str] = None, wait: bool = True) -> None:
    """One worker in this process: takes jobs one at a time until SIGTERM/SIGINT."""
    _drop_queries_of_dead_clients(app)
    proc = procrastinate_app(app)
    heartbeat = float(app.config.get("BHASILE_WORKER_HEARTBEAT_SECONDS", 10))
    stalled = float(app.config.get("BHASILE_WORKER_STALLED_SECONDS", 60))

    async def main() -> None:
        async with proc.open_async():
            reaper = asyncio.create_task(_retry_stalled(proc, max(heartbeat, 1.0), stalled))
            try:
                await proc.run_worker_async(
                    concurrency=1, name=name, wait=wait, update_heartbeat_interval=heartbeat,
                    stalled_worker_timeout=stalled, fetch_job_polling_interval=2.0,
                    delete_jobs="successful")
            finally:
                reaper.cancel()

    asyncio.run(main())


@click.command("worker")
@click.option("--processes", "-p", default=None,
              show_default="BHASILE_WORKERS ou 2", type=click.IntRange(1, 64),
              help="Nombre de processus de travail (chacun traite une tâche à la fois).")
@click.option("--once", is_flag=True, help="S'arrêter quand la file est vide (tests, reprise).")
@with_appcontext
def worker_command(processes: int, once: bool) -> None:
    """Traite les tâches de fond (exports, imports, notifications, recalculs…) de la file PostgreSQL."""
    app = current_app._get_current_object()
    processes = processes or app.config["BHASILE_WORKERS"]
    if backend(app) != "postgresql":
        click.echo("Base SQLite (ou BHASILE_QUEUE=thread) : les tâches de fond tournent dans le "
                   "processus web, aucun worker n'est nécessaire.")
        return
    ensure_schema(app)
    if processes == 1:
        click.echo(f"Worker {os.getpid()} prêt.")
        run_worker(app, name=f"bhasile-{os.getpid()}", wait=not once)
        return
    argv = [sys.executable, "-m", "flask", "bhasile", "worker", "--processes", "1"]
    children = [subprocess.Popen(argv + (["--once"] if once else [])) for _ in range(processes)]
    click.echo(f"{processes} workers démarrés ({', '.join(str(c.pid) for c in children)}).")

    def forward(signum, _frame):
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    if any(codes):
        raise click.ClickException(f"Un worker s'est arrêté en erreur (codes {codes}).")


# --- the jobs ----------------------------------------------------------------------------------
# Each job is registered (``@task``) by the module that does the work: exports.jobs (export),
# imports.background (import_preview, import_apply), app.documents.dialogue (notification),
# app.jobs (scheduled); create_app imports them all (views), so a worker knows every name.

@task("noop")
def _noop(n: int = 0) -> int:
    """A job that does nothing (benchmarks/bench_jobs.py measures the queue itself)."""
    return n
