"""Scheduled jobs: run once with several schedulers, failures keep the previous figures,
rebuilds follow changes within a minute, signed conventions expire at their end date."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from tests.conftest import client_for, run_cli


def _runs(db, job="rebuild", **where):
    from models import JobRun

    query = select(JobRun).where(JobRun.job == job, *[getattr(JobRun, k) == v for k, v in where.items()])
    return db.session.scalars(query.order_by(JobRun.id)).all()


def test_two_schedulers_firing_the_same_slot_run_the_job_once(fresh_app):
    from app.jobs import in_app, run_job

    results: list = []
    barrier = threading.Barrier(2)

    def scheduler_process():
        def fire():
            barrier.wait()
            results.append(run_job("rebuild", "planifie", "2026-01-01T01:30Z"))
        in_app(fresh_app, fire)

    threads = [threading.Thread(target=scheduler_process) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # A late scheduler (its clock behind) fires the same slot afterwards: still nothing to do.
    with fresh_app.app_context():
        results.append(run_job("rebuild", "planifie", "2026-01-01T01:30Z"))
        from app.extensions import db

        runs = _runs(db, slot="2026-01-01T01:30Z")
    assert len(runs) == 1 and runs[0].status == "termine" and runs[0].rows > 0
    assert sorted(r is None for r in results) == [False, True, True]


def test_a_failed_rebuild_keeps_the_previous_figures_and_shows_the_error(fresh_app, monkeypatch):
    import app.pilotage.aggregates as aggregates
    from app.jobs import run_job

    with fresh_app.app_context():
        from app.extensions import db
        from models import AggStructure, PlacesAnnee

        assert run_job("rebuild", "manuel") is not None
        before = db.session.scalar(select(func.sum(AggStructure.places)))
        for p in db.session.scalars(select(PlacesAnnee)):
            p.places_autorisees += 1
        db.session.commit()

        def broken(conn):
            raise RuntimeError("disque plein")

        monkeypatch.setattr(aggregates, "build_territoires", broken)
        run_job("rebuild", "manuel")
        db.session.expire_all()
        assert db.session.scalar(select(func.sum(AggStructure.places))) == before
        failed = _runs(db)[-1]
        assert failed.status == "echec" and "disque plein" in failed.error
    page = client_for(fresh_app, "admin").get("/taches/").get_data(as_text=True)
    assert "Échec" in page and "disque plein" in page


def test_a_save_triggers_one_rebuild_after_the_burst(fresh_app):
    from app.jobs import MAX_WAIT_SECONDS, QUIET_SECONDS, request_due, request_rebuild, run_job
    from models.base import utcnow

    with fresh_app.app_context():
        from app.extensions import db

        assert not request_due()
        request_rebuild("import")
        request_rebuild("grille")
        now = utcnow()
        assert not request_due(now)  # still inside the burst
        assert request_due(now + dt.timedelta(seconds=QUIET_SECONDS + 1))
        assert QUIET_SECONDS < MAX_WAIT_SECONDS <= 60
        assert run_job("rebuild", "auto") is None  # not due yet: nothing recorded
        from models import JobLock

        request = db.session.get(JobLock, "request:rebuild")
        request.requested_at = request.first_requested_at = now - dt.timedelta(seconds=MAX_WAIT_SECONDS)
        db.session.commit()
        assert run_job("rebuild", "auto") is not None
        assert run_job("rebuild", "auto") is None  # the request was consumed
        assert [r.declencheur for r in _runs(db)] == ["auto"]


def test_signed_conventions_expire_at_their_end_date(fresh_app):
    from app.jobs import run_job

    with fresh_app.app_context():
        from app.extensions import db
        from models import Changement, Convention
        from models.enums import StatutConvention

        signed = db.session.scalars(select(Convention).where(
            Convention.statut == StatutConvention.SIGNEE).limit(2)).all()
        signed[0].date_fin = dt.date.today() - dt.timedelta(days=1)
        signed[1].date_fin = dt.date.today() + dt.timedelta(days=1)
        db.session.commit()
        ids = [c.id for c in signed]
        run_id = run_job("rollover", "planifie", "2026-01-01T00:05Z")
        assert run_id is not None
        db.session.expire_all()
        first, second = (db.session.get(Convention, i) for i in ids)
        assert first.statut == StatutConvention.ECHUE
        assert second.statut == StatutConvention.SIGNEE
        history = db.session.scalars(select(Changement).where(
            Changement.entity == "convention", Changement.entity_id == ids[0],
            Changement.field == "statut")).all()
        assert history[-1].new_value == "ECHUE" and history[-1].origin == "job"


def test_cron_slot_is_the_same_for_every_scheduler():
    from apscheduler.triggers.cron import CronTrigger

    from app.jobs.scheduler import slot_of

    trigger = CronTrigger.from_crontab("30 2 * * *", timezone="Europe/Paris")
    fired = dt.datetime(2026, 3, 10, 1, 30, 5, tzinfo=dt.timezone.utc)  # 02:30 Paris
    assert slot_of(trigger, fired) == slot_of(trigger, fired + dt.timedelta(minutes=7)) \
        == "2026-03-10T01:30Z"
    assert slot_of(trigger, fired + dt.timedelta(days=1)) == "2026-03-11T01:30Z"


def test_scheduler_has_the_three_jobs(fresh_app):
    from app.jobs.scheduler import build_scheduler

    scheduler = build_scheduler(fresh_app)
    assert {j.id for j in scheduler.get_jobs()} >= {"rebuild", "rollover", "rebuild_requests"}


def test_cli_rebuild_and_admin_only_manual_button(fresh_app):
    result = run_cli(fresh_app, "bhasile", "rebuild")
    assert result.exit_code == 0 and "Terminé" in result.output
    assert client_for(fresh_app, "centrale").get("/taches/").status_code == 403
    admin = client_for(fresh_app, "admin")
    page = admin.get("/taches/").get_data(as_text=True)
    assert "Recalculer maintenant" in page and "Ligne de commande" in page
    from tests.conftest import Auth

    token = Auth(admin).csrf("/taches/")
    response = admin.post("/taches/recalculer/", data={"job": "rebuild", "csrf_token": token},
                          follow_redirects=True)
    assert response.status_code == 200 and "Manuelle" in response.get_data(as_text=True)
    other = client_for(fresh_app, "centrale")
    assert other.post("/taches/recalculer/", data={"job": "rebuild"}).status_code in (400, 403)


@pytest.mark.parametrize("job", ["rebuild", "rollover"])
def test_a_held_lock_makes_other_runs_skip(fresh_app, job):
    from app.jobs.job_lock import DatabaseLock
    from app.jobs import run_job

    with fresh_app.app_context():
        from app.extensions import db

        lock = DatabaseLock(db.engine, job)
        assert lock.acquire()
        try:
            assert run_job(job, "manuel") is None
        finally:
            lock.release()
        assert run_job(job, "manuel") is not None


def test_saving_park_data_asks_for_a_rebuild_but_a_rollback_does_not(fresh_app):
    from app.jobs import pending_request

    with fresh_app.app_context():
        from app.extensions import db
        from models import Convention, PlacesAnnee

        assert pending_request() is None
        place = db.session.scalars(select(PlacesAnnee).limit(1)).one()
        place.places_autorisees += 1
        db.session.flush()
        db.session.rollback()
        assert pending_request() is None
        convention = db.session.scalars(select(Convention).limit(1)).one()
        convention.notes = "sans effet sur les indicateurs"
        db.session.commit()
        assert pending_request() is None
        place.places_autorisees += 1
        db.session.commit()
        assert pending_request() is not None
