"""Opérateurs: the associations and companies that run structures."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flask_appbuilder import Model

from .base import Versioned


class Operateur(Versioned, Model):
    """An association or company running one or more structures (unique by name)."""

    __tablename__ = "operateur"

    id: Mapped[int] = mapped_column(primary_key=True)
    nom: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    siret: Mapped[Optional[str]] = mapped_column(String(14))
    direction_generale: Mapped[Optional[str]] = mapped_column(String(300))
    siege_social: Mapped[Optional[str]] = mapped_column(String(300))

    structures: Mapped[list["Structure"]] = relationship(  # noqa: F821
        back_populates="operateur", order_by="Structure.code_dna"
    )

    def __str__(self) -> str:
        return self.nom
