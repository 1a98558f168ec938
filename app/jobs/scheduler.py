"""APScheduler wiring of the jobs, and the ``flask bhasile scheduler|rebuild|rollover`` commands.

The scheduler only decides *when*: each firing enqueues a job (``app.jobs.queue``), which a job
worker runs (PostgreSQL), or a thread of this process (SQLite, the quick start).

``flask bhasile scheduler`` runs the scheduler alone (production: one or several such
processes; the database lock makes each job run once). ``python run.py`` starts the same
scheduler in the web process when ``BHASILE_SCHEDULER`` is set (the quick start).
"""
from __future__ import annotations

import atexit
import datetime as dt
import logging
from typing import Optional

import click
from flask.cli import with_appcontext
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask, current_app
from models import JobRun
from models.enums import DONE

from app.extensions import db
from app.jobs import in_app, POLL_SECONDS, request_due, run_job
from app.pilotage.aggregates import last_build
from app.jobs.queue import enqueue

log = logging.getLogger(__name__)
TIMEZONE = "Europe/Paris"


def previous_fire(trigger: CronTrigger, now: dt.datetime) -> dt.datetime:
    """The latest time ≤ ``now`` the trigger fired: the same for every scheduler process."""
    start = now - dt.timedelta(days=8)
    fire = trigger.get_next_fire_time(None, start)
    previous = None
    while fire is not None and fire <= now:
        previous = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(seconds=1))
    return previous or now.replace(second=0, microsecond=0)


def slot_of(trigger: CronTrigger, now: Optional[dt.datetime] = None) -> str:
    """The scheduled slot a cron job is running for, as text (UTC, to the minute)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return previous_fire(trigger, now).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def _enqueue(name: str, trigger: str, slot: Optional[str] = None) -> None:
    """One job « run ``name`` » in the queue; a second one while the first waits is dropped
    (the run itself takes the database lock and skips a slot already run)."""
    enqueue("scheduled", queueing_lock=f"scheduled:{name}:{trigger}", name=name, trigger=trigger,
            slot=slot)


def _cron(app: Flask, name: str, trigger: CronTrigger) -> None:
    in_app(app, lambda: _enqueue(name, "planifie", slot_of(trigger)))


def _poll(app: Flask) -> None:
    in_app(app, lambda: request_due() and _enqueue("rebuild", "auto"))


def _first_build(app: Flask) -> None:
    in_app(app, lambda: last_build(db.engine) is None and _enqueue("rebuild", "demarrage"))


def build_scheduler(app: Flask, blocking: bool = False) -> BaseScheduler:
    """A scheduler with the nightly rebuild, the roll-over and the request poll."""
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone=TIMEZONE)
    defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    for name, key, default in (("rebuild", "BHASILE_REBUILD_CRON", "30 2 * * *"),
                               ("rollover", "BHASILE_ROLLOVER_CRON", "5 0 * * *"),
                               ("export_cleanup", "BHASILE_EXPORT_CLEANUP_CRON", "20 * * * *")):
        try:
            trigger = CronTrigger.from_crontab(app.config.get(key) or default, timezone=TIMEZONE)
        except ValueError as exc:
            raise click.ClickException(f"{key} n'est pas une expression cron valide : {exc}") from None
        scheduler.add_job(_cron, trigger, args=[app, name, trigger], id=name, **defaults)
    scheduler.add_job(_poll, IntervalTrigger(seconds=POLL_SECONDS), args=[app],
                      id="rebuild_requests", **defaults)
    scheduler.add_job(_first_build, "date", args=[app], id="first_build",
                      run_date=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2))
    return scheduler


def start_scheduler(app: Flask) -> BaseScheduler:
    """Start the scheduler inside this (web) process; stopped at exit."""
    scheduler = build_scheduler(app)
    scheduler.start()
    atexit.register(lambda: scheduler.shutdown(wait=False))
    log.info("Planificateur démarré dans le processus web.")
    return scheduler


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Lance le planificateur seul (recalculs nocturnes, recalculs demandés, échéances)."""
    scheduler = build_scheduler(current_app._get_current_object(), blocking=True)
    for job in scheduler.get_jobs():
        click.echo(f"  {job.id:<18} {job.trigger}")
    click.echo("Planificateur démarré (Ctrl-C pour arrêter).")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        click.echo("Planificateur arrêté.")


def _run_and_report(name: str) -> None:

    run_id = run_job(name, "cli")
    if run_id is None:
        raise click.ClickException("Tâche déjà en cours dans un autre processus : réessayez plus tard.")
    run = db.session.get(JobRun, run_id)
    if run.status != DONE:
        raise click.ClickException(f"Échec de la tâche : {run.error}")
    click.echo(f"Terminé en {run.duration_ms / 1000:.2f} s : {run.rows} lignes.")


@click.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Recalcule maintenant tous les indicateurs agrégés."""
    _run_and_report("rebuild")


@click.command("rollover")
@with_appcontext
def rollover_command() -> None:
    """Passe à « Échue » les conventions signées dont la date de fin est dépassée."""
    _run_and_report("rollover")
