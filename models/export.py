"""Background exports: a large .xlsx is written by a worker thread, then downloaded."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from flask_appbuilder import Model

from .base import utcnow
from .enums import DONE, EXPIRED, FAILED, PENDING, RUNNING  # noqa: F401 — the export's statuses


class ExportJob(Model):
    """One export too large to answer within the request: its owner, what it exports (the
    scope and filters captured when it was asked), its progress and the file it produced.

    The state lives in the database so that any web worker can report it and serve the file.
    """

    __tablename__ = "export_job"
    __table_args__ = (Index("ix_export_job_owner_created", "owner_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # classeur / vue
    title: Mapped[str] = mapped_column(String(255), nullable=False)  # download name
    params: Mapped[str] = mapped_column(Text, nullable=False)  # JSON: scope, view, ids, filters
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=PENDING, index=True)
    sheet: Mapped[Optional[str]] = mapped_column(String(64))  # the sheet being written
    rows_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    file_path: Mapped[Optional[str]] = mapped_column(String(500))
    error: Mapped[Optional[str]] = mapped_column(Text)  # technical detail, for the logs page
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    finished_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    expires_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, index=True)

    @property
    def percent(self) -> int:
        if self.status == DONE:
            return 100
        return min(99, int(100 * self.rows_done / self.rows_total)) if self.rows_total else 0

    def __str__(self) -> str:
        return f"{self.title} ({self.created_at:%d/%m/%Y %H:%M})"
