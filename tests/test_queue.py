"""The job interface (app/jobs/queue.py): a job carries ids, the worker reads its owner's scope from
the account; a scope in the job's arguments is never used to read rows."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.conftest import run_cli


def _user(name: str):
    from app.extensions import db
    from models import BhasileUser

    return db.session.scalars(select(BhasileUser).where(BhasileUser.username == name)).one()


def test_the_owner_of_an_import_step_comes_from_the_account(fresh_app):
    from app.scope import scope_of
    from exports.jobs import scope_params
    from imports.background import _check_owner, import_owner

    with fresh_app.app_context():
        calvados = _user("calvados")
        mine = scope_of(calvados)
        owner = import_owner(calvados.id, scope_params(mine))
        assert owner.scope == mine and owner.username == "calvados"
        _check_owner(owner)  # allowed
        # a forged (national) scope in the job's arguments: the step refuses to run
        forged = {**scope_params(mine), "national": True}
        with pytest.raises(PermissionError, match="périmètre"):
            _check_owner(import_owner(calvados.id, forged))
        for unknown in (None, 10**9):  # no account, a forged id: refused too
            with pytest.raises(PermissionError):
                _check_owner(import_owner(unknown, None))


def test_an_export_job_with_a_forged_scope_writes_nothing(fresh_app):
    from app.extensions import db
    from app.scope import scope_of
    from exports import jobs
    from models import ExportJob

    with fresh_app.app_context():
        calvados = _user("calvados")
        params = {"scope": {**jobs.scope_params(scope_of(calvados)), "national": True},
                  "user": "calvados"}
        job = jobs.create_job(calvados.id, "classeur", "x.xlsx", params, 10)
        jobs.run(job.id)  # what the worker does with the job id
        db.session.expire_all()
        done = db.session.get(ExportJob, job.id)
        assert done.status == "echec" and done.file_path is None and "périmètre" in done.error
        from app.documents.storage import file_store

        assert not file_store().exists(jobs.stored_name(job.id))


def test_unknown_jobs_are_refused_and_threads_run_known_ones(fresh_app):
    import threading

    from app.jobs.queue import enqueue

    with fresh_app.app_context():
        with pytest.raises(KeyError):
            enqueue("../../etc/passwd")
        before = set(threading.enumerate())
        assert enqueue("noop", n=1) is None  # BHASILE_QUEUE=thread: a thread of this process
        for thread in set(threading.enumerate()) - before:
            thread.join(10)


def test_the_worker_command_says_there_is_nothing_to_run_on_sqlite(fresh_app):
    result = run_cli(fresh_app, "bhasile", "worker", "-p", "1")
    assert result.exit_code == 0 and "aucun worker n'est nécessaire" in result.output
