"""Conventions, CPOMs and arrêtés: the contracts behind the funding of structures."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint, and_, case, func, or_
from sqlalchemy import select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flask_appbuilder import Model

from .base import Money, Versioned, enum_column
from .enums import StatutConvention, TypeConvention
from .operateur import Operateur


class Convention(Versioned, Model):
    """A funding contract (convention, CPOM, arrêté, avenant) of an opérateur."""

    __tablename__ = "convention"
    __table_args__ = (
        CheckConstraint("date_fin IS NULL OR date_debut IS NULL OR date_fin > date_debut",
                        name="ck_convention_periode"),
        CheckConstraint("montant IS NULL OR montant >= 0", name="ck_convention_montant"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    type: Mapped[TypeConvention] = mapped_column(enum_column(TypeConvention), nullable=False, index=True)
    operateur_id: Mapped[Optional[int]] = mapped_column(ForeignKey("operateur.id"), index=True)
    statut: Mapped[StatutConvention] = mapped_column(
        enum_column(StatutConvention), nullable=False, default=StatutConvention.BROUILLON, index=True
    )
    date_debut: Mapped[Optional[dt.date]] = mapped_column(Date)
    date_fin: Mapped[Optional[dt.date]] = mapped_column(Date, index=True)
    montant: Mapped[Optional[Decimal]] = mapped_column(Money)
    notes: Mapped[Optional[str]] = mapped_column(Text)

    operateur: Mapped[Optional[Operateur]] = relationship()
    structures: Mapped[list["ConventionStructure"]] = relationship(
        back_populates="convention", cascade="all, delete-orphan"
    )

    def __str__(self) -> str:
        return self.reference


class ConventionStructure(Versioned, Model):
    """A structure covered by a convention; for a CPOM, with its own entry and exit years."""

    __tablename__ = "convention_structure"
    __table_args__ = (
        UniqueConstraint("convention_id", "structure_id", name="uq_convention_structure"),
        CheckConstraint("annee_sortie IS NULL OR annee_entree IS NULL OR annee_sortie >= annee_entree",
                        name="ck_convention_structure_annees"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    convention_id: Mapped[int] = mapped_column(
        ForeignKey("convention.id", ondelete="CASCADE"), nullable=False, index=True
    )
    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structure.id", ondelete="CASCADE"), nullable=False, index=True
    )
    annee_entree: Mapped[Optional[int]]
    annee_sortie: Mapped[Optional[int]]

    convention: Mapped[Convention] = relationship(back_populates="structures")
    structure: Mapped["Structure"] = relationship()  # noqa: F821


#: What counts as a structure's convention: a convention, CPOM or avenant once signed (still
#: in force or since expired); drafts, negotiations, terminated ones and arrêtés do not.
CURRENT_STATUTS = (StatutConvention.SIGNEE, StatutConvention.ECHUE)
CURRENT_TYPES = (TypeConvention.CONVENTION, TypeConvention.CPOM, TypeConvention.AVENANT)


def _current_rank(today):
    """The order that picks a structure's current convention among its own: the signed one
    in force ``today`` first, then the latest (greatest start), then the last created."""
    in_force = and_(or_(Convention.date_debut.is_(None), Convention.date_debut <= today),
                    or_(Convention.date_fin.is_(None), Convention.date_fin >= today))
    return (case((in_force, 0), else_=1),
            func.coalesce(Convention.date_debut, Convention.date_fin).desc(), Convention.id.desc())


def _candidates(*columns):
    """The conventions that may be a structure's current one, with these columns."""
    return (select(*columns)
            .join(ConventionStructure, ConventionStructure.convention_id == Convention.id)
            .where(Convention.statut.in_(CURRENT_STATUTS), Convention.type.in_(CURRENT_TYPES)))


def current_convention_value(column, structure_id):
    """``column`` of the structure's current convention, as a correlated scalar subquery:
    the signed one in force today, else the latest (greatest start). The one source of the
    « Début/Fin convention » of a structure: lists, fiche, exports, « À traiter », dashboards
    (a statement over the whole park joins ``current_conventions`` instead)."""
    return (_candidates(column).where(ConventionStructure.structure_id == structure_id)
            .order_by(*_current_rank(func.current_date())).limit(1).scalar_subquery())


def current_conventions(structure_ids=None):
    """The same choice, set-based: one row (structure_id, date_debut, date_fin) per structure
    that has a current convention, the conventions ranked per structure by a window function.
    For the statements that read every structure (the aggregates' rebuild): the correlated
    subquery runs once per structure and its row, which PostgreSQL plans as thousands of
    index probes; this reads the links once. ``structure_ids``: a select of the ids wanted."""
    rank = func.row_number().over(partition_by=ConventionStructure.structure_id,
                                  order_by=_current_rank(func.current_date()))
    ranked = _candidates(ConventionStructure.structure_id, Convention.date_debut, Convention.date_fin,
                         rank.label("rang"))
    if structure_ids is not None:
        ranked = ranked.where(ConventionStructure.structure_id.in_(structure_ids))
    ranked = ranked.subquery("conventions_classees")
    return (select(ranked.c.structure_id, ranked.c.date_debut, ranked.c.date_fin)
            .where(ranked.c.rang == 1).subquery("convention_courante"))
