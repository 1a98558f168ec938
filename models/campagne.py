"""Collection campaigns: a territory's opérateurs fill years of data, agents finalise it."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (Column, Date, DateTime, Enum, ForeignKey, Index, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Versioned, enum_column, utcnow
from .enums import LabelledEnum
from .structure import Structure
from .territoire import Departement


class StatutCampagne(LabelledEnum):
    OUVERTE = "ouverte", _l("Ouverte")
    CLOTUREE = "cloturee", _l("Clôturée")


class StatutTache(LabelledEnum):
    """Where a structure stands in a campaign (the order is the workflow's)."""

    NON_COMMENCE = "non_commence", _l("Non commencé")
    EN_COURS = "en_cours", _l("En cours")
    TRANSMIS = "transmis", _l("Transmis")
    A_CORRIGER = "a_corriger", _l("À corriger")
    VALIDE = "valide", _l("Validé")


class StatutSection(LabelledEnum):
    """An agent's verdict on one section of a structure's data."""

    A_VERIFIER = "a_verifier", _l("À vérifier")
    A_CORRIGER = "a_corriger", _l("À corriger")
    VALIDE = "valide", _l("Validé")


#: The sections an agent validates, in the order of the finalisation page.
SECTIONS = ("identification", "places", "finances", "documents", "controles")
SECTION_LABELS = {"identification": _l("Identification"), "places": _l("Places"),
                  "finances": _l("Finances"), "documents": _l("Documents"),
                  "controles": _l("Contrôles")}

def _section_column(name: str):
    """An agent's verdict column; each has its own CHECK name (PostgreSQL wants them unique)."""
    kind = Enum(StatutSection, native_enum=False, create_constraint=True, length=10,
                values_callable=lambda e: [m.value for m in e], validate_strings=True,
                name=f"ck_tache_{name}")
    return mapped_column(kind, nullable=False, default=StatutSection.A_VERIFIER)


campagne_departement = Table(
    "campagne_departement", Model.metadata,
    Column("campagne_id", ForeignKey("campagne.id", ondelete="CASCADE"), primary_key=True),
    Column("departement_id", ForeignKey("departement.id"), primary_key=True),
)


class Campagne(Versioned, Model):
    """A collection campaign: a territory, the years and sheets asked, a deadline."""

    __tablename__ = "campagne"

    id: Mapped[int] = mapped_column(primary_key=True)
    nom: Mapped[str] = mapped_column(String(200), nullable=False)
    annees: Mapped[str] = mapped_column(String(100), nullable=False)   #: "2021,2022,2023"
    feuilles: Mapped[str] = mapped_column(String(300), nullable=False)  #: sheet names, "|"-joined
    statut: Mapped[StatutCampagne] = mapped_column(enum_column(StatutCampagne), nullable=False,
                                                   default=StatutCampagne.OUVERTE)
    ouverte_par: Mapped[Optional[str]] = mapped_column(String(128))
    ouverte_le: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    echeance: Mapped[Optional[dt.date]] = mapped_column(Date)
    cloturee_le: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    departements: Mapped[list[Departement]] = relationship(secondary=campagne_departement,
                                                           order_by=Departement.code)
    taches: Mapped[list["Tache"]] = relationship(back_populates="campagne",
                                                 cascade="all, delete-orphan")

    @property
    def years(self) -> list[int]:
        return [int(y) for y in self.annees.split(",") if y.strip()]

    @property
    def sheet_names(self) -> list[str]:
        return [s for s in self.feuilles.split("|") if s]

    def __str__(self) -> str:
        return self.nom


class Tache(Versioned, Model):
    """One structure's part of a campaign: its status and the agent's verdict per section."""

    __tablename__ = "tache"
    __table_args__ = (UniqueConstraint("campagne_id", "structure_id", name="uq_tache_structure"),
                      Index("ix_tache_structure", "structure_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campagne_id: Mapped[int] = mapped_column(ForeignKey("campagne.id", ondelete="CASCADE"),
                                             nullable=False, index=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), nullable=False)
    statut: Mapped[StatutTache] = mapped_column(enum_column(StatutTache), nullable=False,
                                                default=StatutTache.NON_COMMENCE, index=True)
    transmis_le: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    valide_le: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    identification: Mapped[StatutSection] = _section_column("identification")
    places: Mapped[StatutSection] = _section_column("places")
    finances: Mapped[StatutSection] = _section_column("finances")
    documents: Mapped[StatutSection] = _section_column("documents")
    controles: Mapped[StatutSection] = _section_column("controles")

    campagne: Mapped[Campagne] = relationship(back_populates="taches")
    structure: Mapped[Structure] = relationship()
    commentaires: Mapped[list["TacheCommentaire"]] = relationship(
        back_populates="tache", cascade="all, delete-orphan", order_by="TacheCommentaire.id")

    def section(self, name: str) -> StatutSection:
        return getattr(self, name)

    def __str__(self) -> str:
        return f"{self.campagne_id}/{self.structure_id}"


class TacheCommentaire(Versioned, Model):
    """A message on a task (an agent's correction request, an opérateur's answer); never edited."""

    __tablename__ = "tache_commentaire"

    id: Mapped[int] = mapped_column(primary_key=True)
    tache_id: Mapped[int] = mapped_column(ForeignKey("tache.id", ondelete="CASCADE"),
                                          nullable=False, index=True)
    section: Mapped[Optional[str]] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    username: Mapped[Optional[str]] = mapped_column(String(128))
    auteur: Mapped[str] = mapped_column(String(20), nullable=False)  #: agent / operateur
    action: Mapped[Optional[str]] = mapped_column(String(20))        #: a_corriger, valide, transmis
    texte: Mapped[str] = mapped_column(Text, nullable=False, default="")

    tache: Mapped[Tache] = relationship(back_populates="commentaires")
