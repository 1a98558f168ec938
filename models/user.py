"""BHasile accounts: FAB's user, plus the territory a user works on (their scope)."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import Column, ForeignKey, Integer, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User

from .operateur import Operateur
from .territoire import Departement, Region

user_region = Table(
    "user_region",
    Model.metadata,
    Column("user_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True),
    Column("region_id", Integer, ForeignKey("region.id", ondelete="CASCADE"), primary_key=True),
)
user_departement = Table(
    "user_departement",
    Model.metadata,
    Column("user_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True),
    Column("departement_id", Integer, ForeignKey("departement.id", ondelete="CASCADE"),
           primary_key=True),
)


class BhasileUser(User):
    """A FAB user with a scope: régions, départements, or one opérateur (none = national)."""

    __tablename__ = "ab_user"

    operateur_id: Mapped[Optional[int]] = mapped_column(ForeignKey("operateur.id"), nullable=True)

    regions: Mapped[list[Region]] = relationship(secondary=user_region, lazy="selectin")
    departements: Mapped[list[Departement]] = relationship(secondary=user_departement,
                                                           lazy="selectin")
    operateur: Mapped[Optional[Operateur]] = relationship(foreign_keys=[operateur_id])
