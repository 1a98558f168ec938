"""Structures (CADA, HUDA, CPH, CAES, PRAHDA), their housing addresses and contacts."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, Date, Float, ForeignKey, Index, String, Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from flask_appbuilder import Model

from .base import Versioned, enum_column
from .convention import Convention, current_convention_value
from .enums import Public, Repartition, TypeContact, TypeStructure
from .operateur import Operateur
from .territoire import Departement


class Structure(Versioned, Model):
    """A housing structure for asylum seekers, identified by its code DNA."""

    __tablename__ = "structure"
    __table_args__ = (
        CheckConstraint("fin_autorisation IS NULL OR debut_autorisation IS NULL "
                        "OR fin_autorisation > debut_autorisation", name="ck_structure_autorisation"),
        CheckConstraint("fin_convention IS NULL OR debut_convention IS NULL "
                        "OR fin_convention > debut_convention", name="ck_structure_convention"),
        Index("ix_structure_dep_type", "departement_id", "type"),
        Index("ix_structure_coordonnees", "latitude", "longitude"),  # the map's viewport
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code_dna: Mapped[str] = mapped_column(String(10), unique=True, nullable=False)
    nom: Mapped[Optional[str]] = mapped_column(String(200))
    type: Mapped[TypeStructure] = mapped_column(enum_column(TypeStructure), nullable=False, index=True)
    operateur_id: Mapped[Optional[int]] = mapped_column(ForeignKey("operateur.id"), index=True)
    filiale: Mapped[Optional[str]] = mapped_column(String(200))
    departement_id: Mapped[int] = mapped_column(ForeignKey("departement.id"), nullable=False, index=True)
    adresse_administrative: Mapped[Optional[str]] = mapped_column(String(300))
    code_postal: Mapped[Optional[str]] = mapped_column(String(5), index=True)
    commune: Mapped[Optional[str]] = mapped_column(String(150), index=True)
    latitude: Mapped[Optional[float]] = mapped_column(Float)
    longitude: Mapped[Optional[float]] = mapped_column(Float)
    code_finess: Mapped[Optional[str]] = mapped_column(String(9), index=True)
    site_internet: Mapped[Optional[str]] = mapped_column(String(300))
    public: Mapped[Optional[Public]] = mapped_column(enum_column(Public))
    date_creation: Mapped[Optional[dt.date]] = mapped_column(Date)
    date_303: Mapped[Optional[dt.date]] = mapped_column(Date)
    lgbt: Mapped[Optional[bool]] = mapped_column(Boolean)
    fvv_teh: Mapped[Optional[bool]] = mapped_column(Boolean)
    debut_autorisation: Mapped[Optional[dt.date]] = mapped_column(Date)
    fin_autorisation: Mapped[Optional[dt.date]] = mapped_column(Date)
    # Convention dates once copied onto the structure: no longer read nor written (the
    # structure's « Début/Fin convention » come from its current convention, below); the
    # columns go with a later migration.
    debut_convention_copie: Mapped[Optional[dt.date]] = mapped_column("debut_convention", Date)
    fin_convention_copie: Mapped[Optional[dt.date]] = mapped_column("fin_convention", Date, index=True)
    notes: Mapped[Optional[str]] = mapped_column(Text)

    operateur: Mapped[Optional[Operateur]] = relationship(back_populates="structures")
    departement: Mapped[Departement] = relationship()
    adresses: Mapped[list["Adresse"]] = relationship(
        back_populates="structure", cascade="all, delete-orphan", order_by="Adresse.id"
    )
    contacts: Mapped[list["Contact"]] = relationship(
        back_populates="structure", cascade="all, delete-orphan", order_by="Contact.type"
    )
    places: Mapped[list["PlacesAnnee"]] = relationship(  # noqa: F821
        back_populates="structure", cascade="all, delete-orphan", order_by="PlacesAnnee.annee"
    )
    budgets: Mapped[list["BudgetAnnee"]] = relationship(  # noqa: F821
        back_populates="structure", cascade="all, delete-orphan", order_by="BudgetAnnee.annee"
    )

    def __str__(self) -> str:
        return f"{self.code_dna} - {self.nom}" if self.nom else self.code_dna


#: Dates of the structure's current convention (``models.convention``), read-only.
Structure.debut_convention = column_property(current_convention_value(Convention.date_debut, Structure.id))
Structure.fin_convention = column_property(current_convention_value(Convention.date_fin, Structure.id))


class Adresse(Versioned, Model):
    """A housing address of a structure (diffus or collectif); places are kept per year."""

    __tablename__ = "adresse"

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structure.id", ondelete="CASCADE"), nullable=False, index=True
    )
    adresse: Mapped[str] = mapped_column(String(300), nullable=False)
    code_postal: Mapped[Optional[str]] = mapped_column(String(5))
    commune: Mapped[Optional[str]] = mapped_column(String(150), index=True)
    repartition: Mapped[Repartition] = mapped_column(enum_column(Repartition), nullable=False)

    structure: Mapped[Structure] = relationship(back_populates="adresses")
    annees: Mapped[list["AdresseAnnee"]] = relationship(
        back_populates="adresse", cascade="all, delete-orphan", order_by="AdresseAnnee.annee"
    )

    def __str__(self) -> str:
        return f"{self.adresse} {self.code_postal or ''} {self.commune or ''}".strip()


class AdresseAnnee(Versioned, Model):
    """Places of one address for one year, with its QPV and social-housing flags."""

    __tablename__ = "adresse_annee"
    __table_args__ = (
        UniqueConstraint("adresse_id", "annee", name="uq_adresse_annee"),
        CheckConstraint("places_autorisees >= 0", name="ck_adresse_annee_places"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    adresse_id: Mapped[int] = mapped_column(
        ForeignKey("adresse.id", ondelete="CASCADE"), nullable=False, index=True
    )
    annee: Mapped[int] = mapped_column(nullable=False)
    places_autorisees: Mapped[Optional[int]]
    qpv: Mapped[Optional[bool]] = mapped_column(Boolean)
    logement_social: Mapped[Optional[bool]] = mapped_column(Boolean)

    adresse: Mapped[Adresse] = relationship(back_populates="annees")


class Contact(Versioned, Model):
    """A person to reach at a structure; one per structure and contact type."""

    __tablename__ = "contact"
    __table_args__ = (UniqueConstraint("structure_id", "type", name="uq_contact_structure_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structure.id", ondelete="CASCADE"), nullable=False, index=True
    )
    type: Mapped[TypeContact] = mapped_column(enum_column(TypeContact), nullable=False)
    prenom: Mapped[Optional[str]] = mapped_column(String(100))
    nom: Mapped[Optional[str]] = mapped_column(String(100))
    role: Mapped[Optional[str]] = mapped_column(String(150))
    email: Mapped[Optional[str]] = mapped_column(String(254))
    telephone: Mapped[Optional[str]] = mapped_column(String(20))

    structure: Mapped[Structure] = relationship(back_populates="contacts")

    def __str__(self) -> str:
        return " ".join(p for p in (self.prenom, self.nom) if p) or str(self.type)
