"""The database lock that makes a job run once when several processes run the scheduler.

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held on a dedicated
connection for the length of the run. SQLite: a row in ``job_lock`` whose ``expires_at``
frees it if its holder died. The same table keeps the pending rebuild request (see
``app.jobs.request_rebuild``).
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
import zlib
from typing import Optional

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from models import JobLock
from models.base import utcnow

#: A lock older than this is considered abandoned (its process died mid-run).
LOCK_TTL = dt.timedelta(hours=1)


def holder_name() -> str:
    """This process, as written in the lock and the run history."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


class DatabaseLock:
    """A named lock shared by every process using the same database."""

    def __init__(self, engine: Engine, name: str, holder: Optional[str] = None):
        self.engine = engine
        self.name = f"lock:{name}"
        # Unique per lock object: two threads of one process are two different holders.
        self.holder = f"{holder or holder_name()}:{uuid.uuid4().hex[:8]}"[:100]
        self._conn: Optional[Connection] = None
        self.held = False
        self.key = zlib.crc32(self.name.encode()) & 0x7FFFFFFF

    @property
    def postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it."""
        self.held = self._acquire()
        return self.held

    def _acquire(self) -> bool:
        if self.postgresql:
            conn = self.engine.connect()
            got = conn.scalar(select(func.pg_try_advisory_lock(self.key)))
            conn.commit()
            if got:
                self._conn = conn
                return True
            conn.close()
            return False
        return self._acquire_row()

    def _acquire_row(self) -> bool:
        now = utcnow()
        values = {"holder": self.holder, "acquired_at": now, "expires_at": now + LOCK_TTL}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(JobLock).values(name=self.name, **values))
            return True
        except IntegrityError:
            pass
        except OperationalError:  # SQLite busy beyond its timeout: someone else is writing
            return False
        try:
            with self.engine.begin() as conn:
                taken = conn.execute(update(JobLock).where(
                    JobLock.name == self.name,
                    or_(JobLock.expires_at.is_(None), JobLock.expires_at < now)).values(**values))
                return taken.rowcount == 1
        except OperationalError:
            return False

    def release(self) -> None:
        """Give the lock back (no-op when it was not taken)."""
        if not self.held:
            return
        self.held = False
        if self.postgresql:
            if self._conn is not None:
                self._conn.scalar(select(func.pg_advisory_unlock(self.key)))
                self._conn.commit()
                self._conn.close()
                self._conn = None
            return
        with self.engine.begin() as conn:
            conn.execute(delete(JobLock).where(JobLock.name == self.name,
                                               JobLock.holder == self.holder))
