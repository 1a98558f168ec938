"""Change history: one row per changed field, written by ``app.audit`` from any path."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from flask_appbuilder import Model

from .base import utcnow


class Changement(Model):
    """Who changed which field of which record, when, from where (form, API, import, grid, CLI)."""

    __tablename__ = "changement"
    __table_args__ = (
        Index("ix_changement_entity", "entity", "entity_id"),
        Index("ix_changement_structure_at", "structure_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False, index=True)
    user_id: Mapped[Optional[int]] = mapped_column(Integer)
    username: Mapped[Optional[str]] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(20), nullable=False)  # create / update / delete / login...
    entity: Mapped[str] = mapped_column(String(50), nullable=False)
    entity_id: Mapped[Optional[int]] = mapped_column(Integer)
    key: Mapped[Optional[str]] = mapped_column(String(200))
    field: Mapped[Optional[str]] = mapped_column(String(100))
    old_value: Mapped[Optional[str]] = mapped_column(Text)
    new_value: Mapped[Optional[str]] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(20), nullable=False)  # form, api, import, grid, cli
    batch_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    structure_id: Mapped[Optional[int]] = mapped_column(Integer)
