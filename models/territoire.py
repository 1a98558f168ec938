"""Régions and départements: INSEE reference data, loaded by ``flask bhasile init``."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flask_appbuilder import Model


class Region(Model):
    """A région (INSEE code, e.g. ``28`` Normandie)."""

    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(3), unique=True, nullable=False)
    nom: Mapped[str] = mapped_column(String(100), nullable=False)

    departements: Mapped[list["Departement"]] = relationship(
        back_populates="region", order_by="Departement.code"
    )

    def __str__(self) -> str:
        return self.nom


class Departement(Model):
    """A département; its code is text (``01``, ``2A``, ``974``), never a number."""

    __tablename__ = "departement"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(3), unique=True, nullable=False)
    nom: Mapped[str] = mapped_column(String(100), nullable=False)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), nullable=False, index=True)

    region: Mapped[Region] = relationship(back_populates="departements")

    def __str__(self) -> str:
        return f"{self.code} - {self.nom}"
