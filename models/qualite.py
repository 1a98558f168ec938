"""Quality follow-up of a structure: inspections, evaluations and serious incidents (EIG)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flask_appbuilder import Model

from .base import Ratio, Versioned, enum_column
from .enums import TypeControle

NOTES = ("note_personnes", "note_professionnels", "note_structure", "note_globale")


class Controle(Versioned, Model):
    """An inspection of a structure (programmed or unannounced)."""

    __tablename__ = "controle"

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structure.id", ondelete="CASCADE"), nullable=False, index=True
    )
    date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    type: Mapped[TypeControle] = mapped_column(enum_column(TypeControle), nullable=False)
    commentaire: Mapped[Optional[str]] = mapped_column(Text)

    structure: Mapped["Structure"] = relationship()  # noqa: F821


class Evaluation(Versioned, Model):
    """An evaluation of a structure, scored 0..4 on each axis and overall."""

    __tablename__ = "evaluation"
    __table_args__ = tuple(
        CheckConstraint(f"{n} IS NULL OR ({n} >= 0 AND {n} <= 4)", name=f"ck_evaluation_{n}")
        for n in NOTES
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structure.id", ondelete="CASCADE"), nullable=False, index=True
    )
    date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    note_personnes: Mapped[Optional[Decimal]] = mapped_column(Ratio)
    note_professionnels: Mapped[Optional[Decimal]] = mapped_column(Ratio)
    note_structure: Mapped[Optional[Decimal]] = mapped_column(Ratio)
    note_globale: Mapped[Optional[Decimal]] = mapped_column(Ratio)
    commentaire: Mapped[Optional[str]] = mapped_column(Text)

    structure: Mapped["Structure"] = relationship()  # noqa: F821


class Eig(Versioned, Model):
    """A serious adverse event (événement indésirable grave) declared by a structure."""

    __tablename__ = "eig"

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structure.id", ondelete="CASCADE"), nullable=False, index=True
    )
    numero: Mapped[Optional[str]] = mapped_column(String(50))
    date_evenement: Mapped[Optional[dt.date]] = mapped_column(Date)
    date_declaration: Mapped[Optional[dt.date]] = mapped_column(Date)
    nature: Mapped[Optional[str]] = mapped_column(String(300))

    structure: Mapped["Structure"] = relationship()  # noqa: F821
