"""Import batches: one per file an agent (or the command line) imported or tried to."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from flask_appbuilder import Model

from .base import utcnow


class ImportBatch(Model):
    """A file sent to the import: who, when, the stored original, its status and counts."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False,
                                                    index=True)
    applied_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    user_id: Mapped[Optional[int]] = mapped_column(Integer)
    username: Mapped[Optional[str]] = mapped_column(String(128), index=True)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    stored_path: Mapped[Optional[str]] = mapped_column(String(500))
    year: Mapped[Optional[int]] = mapped_column(Integer)
    origin: Mapped[str] = mapped_column(String(20), nullable=False, default="web")  # web / cli
    #: preview (checked, not applied), applied, refused (errors), stale, unusable (bad file);
    #: a large file (``imports.background``): checking, applying, failed (its check stopped)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="preview")
    counts: Mapped[Optional[str]] = mapped_column(Text)  # JSON: per-sheet counts, errors, warnings
    # --- the step running in the background, as any web worker reports it
    #: start, queued, read, parse, check, write, save (see ``imports.background.Progress``)
    progress_stage: Mapped[Optional[str]] = mapped_column(String(20))
    progress_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    progress_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    #: why the last background step did not end as planned: the rows named when ``stale``,
    #: else the technical detail for the assistance (the agent reads a sentence of the page)
    error: Mapped[Optional[str]] = mapped_column(Text)
    started_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)   #: of the last step
    updated_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)   #: its last news
    finished_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    def __str__(self) -> str:
        return f"{self.filename} ({self.created_at:%d/%m/%Y %H:%M})"
