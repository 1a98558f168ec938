"""Security bookkeeping shared by every server process (not domain data)."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column


class LoginThrottle(Model):
    """Failed logins counted for one key (``user:<login>`` or ``ip:<address>``).

    Kept in the database so that every gunicorn worker sees the same counters: after too many
    failures within the window the key is locked until ``locked_until``.
    """

    __tablename__ = "login_throttle"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_failure_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    locked_until: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)


class UserSession(Model):
    """A signed-in browser session, known to the server so that it can end for good.

    The session cookie carries ``id``; signing out deletes the row, so a copy of the old
    cookie no longer signs anyone in. Rows older than the longest session are purged.
    """

    __tablename__ = "user_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, index=True)
