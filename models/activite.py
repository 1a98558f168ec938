"""Monthly activity of a structure, as reported by the OFII."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import CheckConstraint, Date, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flask_appbuilder import Model

from .base import Versioned

COUNTS = ("places_autorisees", "places_occupees", "places_vacantes", "places_indisponibles",
          "desinsectisation", "remise_en_etat", "sous_occupation", "travaux",
          "presences_indues_bpi", "presences_indues_deboutes")


class ActiviteMensuelle(Versioned, Model):
    """Occupancy of a structure for one month (``mois`` is the first day of the month)."""

    __tablename__ = "activite_mensuelle"
    __table_args__ = (
        UniqueConstraint("structure_id", "mois", name="uq_activite_structure_mois"),
        CheckConstraint(" AND ".join(f"{c} >= 0" for c in COUNTS), name="ck_activite_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structure.id", ondelete="CASCADE"), nullable=False, index=True
    )
    mois: Mapped[dt.date] = mapped_column(Date, nullable=False, index=True)
    places_autorisees: Mapped[Optional[int]]
    places_occupees: Mapped[Optional[int]]
    places_vacantes: Mapped[Optional[int]]
    places_indisponibles: Mapped[Optional[int]]
    desinsectisation: Mapped[Optional[int]]
    remise_en_etat: Mapped[Optional[int]]
    sous_occupation: Mapped[Optional[int]]
    travaux: Mapped[Optional[int]]
    presences_indues_bpi: Mapped[Optional[int]]
    presences_indues_deboutes: Mapped[Optional[int]]

    structure: Mapped["Structure"] = relationship()  # noqa: F821

    @property
    def places_disponibles(self) -> Optional[int]:
        if self.places_autorisees is None:
            return None
        return self.places_autorisees - (self.places_indisponibles or 0)

    @property
    def taux_occupation(self) -> Optional[float]:
        dispo = self.places_disponibles
        if not dispo or self.places_occupees is None:
            return None
        return self.places_occupees / dispo

    @property
    def presences_indues(self) -> int:
        return (self.presences_indues_bpi or 0) + (self.presences_indues_deboutes or 0)
