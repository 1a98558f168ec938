"""Per-year tables of a structure: places ("typologie") and budget."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

from sqlalchemy import CheckConstraint, Date, ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flask_appbuilder import Model

from .base import Money, Ratio, Versioned


class PlacesAnnee(Versioned, Model):
    """Places of a structure for one year: authorised places and their typology."""

    __tablename__ = "places_annee"
    __table_args__ = (
        UniqueConstraint("structure_id", "annee", name="uq_places_structure_annee"),
        CheckConstraint("places_autorisees >= 0 AND pmr >= 0 AND lgbt >= 0 AND fvv_teh >= 0 "
                        "AND places_a_creer >= 0 AND places_a_fermer >= 0",
                        name="ck_places_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structure.id", ondelete="CASCADE"), nullable=False, index=True
    )
    annee: Mapped[int] = mapped_column(nullable=False, index=True)
    places_autorisees: Mapped[Optional[int]]
    pmr: Mapped[Optional[int]]
    lgbt: Mapped[Optional[int]]
    fvv_teh: Mapped[Optional[int]]
    places_a_creer: Mapped[Optional[int]]
    echeance_places_a_creer: Mapped[Optional[dt.date]] = mapped_column(Date)
    places_a_fermer: Mapped[Optional[int]]
    echeance_places_a_fermer: Mapped[Optional[dt.date]] = mapped_column(Date)

    structure: Mapped["Structure"] = relationship(back_populates="places")  # noqa: F821


class BudgetAnnee(Versioned, Model):
    """Budget of a structure for one year: dotations, accounts, results and their allocation."""

    __tablename__ = "budget_annee"
    __table_args__ = (
        UniqueConstraint("structure_id", "annee", name="uq_budget_structure_annee"),
        CheckConstraint("etp >= 0", name="ck_budget_etp"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structure.id", ondelete="CASCADE"), nullable=False, index=True
    )
    annee: Mapped[int] = mapped_column(nullable=False, index=True)
    etp: Mapped[Optional[Decimal]] = mapped_column(Ratio)
    taux_encadrement: Mapped[Optional[Decimal]] = mapped_column(Ratio)
    cout_journalier: Mapped[Optional[Decimal]] = mapped_column(Ratio)
    dotation_demandee: Mapped[Optional[Decimal]] = mapped_column(Money)
    dotation_accordee: Mapped[Optional[Decimal]] = mapped_column(Money)
    total_produits: Mapped[Optional[Decimal]] = mapped_column(Money)
    total_charges: Mapped[Optional[Decimal]] = mapped_column(Money)
    total_charges_proposees: Mapped[Optional[Decimal]] = mapped_column(Money)
    cumul_resultats_nets_cpom: Mapped[Optional[Decimal]] = mapped_column(Money)
    reprise_etat: Mapped[Optional[Decimal]] = mapped_column(Money)
    excedent_recupere: Mapped[Optional[Decimal]] = mapped_column(Money)
    excedent_deduit: Mapped[Optional[Decimal]] = mapped_column(Money)
    affectation_reserves_fonds_dedies: Mapped[Optional[Decimal]] = mapped_column(Money)
    reserve_investissement: Mapped[Optional[Decimal]] = mapped_column(Money)
    charges_non_reconductibles: Mapped[Optional[Decimal]] = mapped_column(Money)
    reserve_compensation_deficits: Mapped[Optional[Decimal]] = mapped_column(Money)
    reserve_couverture_bfr: Mapped[Optional[Decimal]] = mapped_column(Money)
    reserve_compensation_amortissements: Mapped[Optional[Decimal]] = mapped_column(Money)
    fonds_dedies: Mapped[Optional[Decimal]] = mapped_column(Money)
    report_a_nouveau: Mapped[Optional[Decimal]] = mapped_column(Money)
    autre: Mapped[Optional[Decimal]] = mapped_column(Money)
    commentaire: Mapped[Optional[str]] = mapped_column(Text)

    structure: Mapped["Structure"] = relationship(back_populates="budgets")  # noqa: F821

    @property
    def resultat_net(self) -> Optional[Decimal]:
        """Total produits − total charges, only when both are known (> 0: excédent)."""
        if self.total_produits is None or self.total_charges is None:
            return None
        return self.total_produits - self.total_charges
