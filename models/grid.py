"""Grid saves and grid preferences.

A ``GridSave`` is one batch of cells an agent saved from a spreadsheet-like grid page: one entry
of the change history ("grid save N"), with the values it replaced so it can be undone.
A ``GridPreference`` keeps, per user and per sheet, the columns the agent chose to hide.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import Boolean, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import utcnow


class GridSave(Model):
    """One save of a grid page: who, when, which sheet, how many rows, and how to undo it.

    ``before`` is JSON: a list of ``{"table", "id", "version", "created", "values"}``, one per
    record written, where ``values`` holds the attributes as they were before the save and
    ``version`` the record's version right after it (an undo is refused if it moved since).
    """

    __tablename__ = "grid_save"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    user_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    username: Mapped[Optional[str]] = mapped_column(String(128))
    sheet: Mapped[str] = mapped_column(String(40), nullable=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cells: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    undone: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    undone_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    before: Mapped[Optional[str]] = mapped_column(Text)

    def __str__(self) -> str:
        return f"grid save {self.id}"


class GridPreference(Model):
    """The columns a user hides on one grid page (JSON list of field names)."""

    __tablename__ = "grid_preference"
    __table_args__ = (UniqueConstraint("user_id", "sheet", name="uq_grid_preference_user_sheet"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, nullable=False)
    sheet: Mapped[str] = mapped_column(String(40), nullable=False)
    hidden: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
