"""Security bookkeeping shared by every server process (not domain data)."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import DateTime, Integer, String
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
