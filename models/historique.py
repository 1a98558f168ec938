"""Change history: one row per changed field, written by ``app.audit`` from any path."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import DateTime, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from flask_appbuilder import Model

from .base import utcnow


class Changement(Model):
    """Who changed which field of which record, when, from where (form, API, import, grid, CLI)."""

    __tablename__ = "changement"
    #: The indexes of the queries the pages make, nothing more: every import writes ~11 rows
    #: per row it creates, and each index costs on every one of them.
    #: - a structure's history (fiche, journal in a territory): ``structure_id`` then ``at``;
    #: - the saves missed by a stale form or grid (app.locking.changes_since: the updates of one
    #:   record): partial, so an import's creations never enter it;
    #: - a time span (the journal's pages and dates, the « à vérifier » notes of an import,
    #:   imports.merge): BRIN on PostgreSQL — rows come in time order, so a few block ranges
    #:   per query and next to nothing per insert; a B-tree elsewhere.
    #: No index on ``username`` nor ``batch_id``: no page asks for them without a territory,
    #: a time or a structure (the journal's « utilisateur » filter reads the scan it groups).
    __table_args__ = (
        Index("ix_changement_structure_at", "structure_id", "at"),
        Index("ix_changement_entity_update", "entity", "entity_id",
              postgresql_where=text("action = 'update'"), sqlite_where=text("action = 'update'")),
        Index("ix_changement_at", "at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    user_id: Mapped[Optional[int]] = mapped_column(Integer)
    username: Mapped[Optional[str]] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(20), nullable=False)  # create / update / delete / login...
    entity: Mapped[str] = mapped_column(String(50), nullable=False)
    entity_id: Mapped[Optional[int]] = mapped_column(Integer)
    key: Mapped[Optional[str]] = mapped_column(String(200))
    field: Mapped[Optional[str]] = mapped_column(String(100))
    old_value: Mapped[Optional[str]] = mapped_column(Text)
    new_value: Mapped[Optional[str]] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(20), nullable=False)  # form, api, import, grid, cli
    batch_id: Mapped[Optional[int]] = mapped_column(Integer)
    structure_id: Mapped[Optional[int]] = mapped_column(Integer)
