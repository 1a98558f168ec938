"""Import batches: one per file an agent (or the command line) imported or tried to."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
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
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="apercu")
    #: JSON, small: per-sheet counts, the detail's counts per kind, warnings (the detail itself
    #: is in ``import_change``)
    counts: Mapped[Optional[str]] = mapped_column(Text)
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


class ImportChange(Model):
    """One line of a preview's detail, written in bulk at preview and read page by page: a row
    the file creates or modifies (with what the apply writes), a conflict (with the side
    chosen), an error, or a remark (« à vérifier », a newer value kept)."""

    __tablename__ = "import_change"
    __table_args__ = (Index("ix_import_change_page", "batch_id", "kind", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id", ondelete="CASCADE"),
                                          nullable=False)
    #: the order of the page: conflicts first (a conflict's seq is its number in the choice form)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    #: created, modified, conflict, error, verify (« à vérifier »), note
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    sheet: Mapped[str] = mapped_column(String(40), nullable=False)
    row: Mapped[Optional[int]] = mapped_column(Integer)
    column: Mapped[Optional[str]] = mapped_column(String(200))
    key: Mapped[Optional[str]] = mapped_column(Text)       #: JSON list, as shown
    message: Mapped[Optional[str]] = mapped_column(Text)
    value: Mapped[Optional[str]] = mapped_column(Text)     #: the cell's value, as shown
    #: created / modified: the record the apply writes (``imports.changes``); conflict: its id
    data: Mapped[Optional[str]] = mapped_column(Text)
    choice: Mapped[Optional[str]] = mapped_column(String(10))   #: a conflict's side kept
