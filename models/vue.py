"""Saved views ("vues enregistrées"): the columns, filters, sort and frozen columns of a list or
grid page kept under a name.

A view belongs to its owner; it may be shared with a territory (the owner's: a région, a
département, an opérateur, or the nation), and an administrator may make it the default of a
role on its page. Who sees and changes which view is ``app.scope``'s rule, as for every other
record; writes go through the write gate (``app.gate``). ``etat`` is JSON holding filters and
columns only, never record ids: a view reopened by another user still shows that user's scope.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import utcnow
from .operateur import Operateur
from .territoire import Departement, Region

#: Largest ``etat`` accepted, in characters of JSON.
MAX_ETAT = 16000
MAX_NOM = 120


class VueEnregistree(Model):
    """One saved view of one page (``page``: ``liste:<View>`` or ``grille:<slug>``)."""

    __tablename__ = "vue_enregistree"
    __table_args__ = (Index("ix_vue_enregistree_page_owner", "page", "owner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page: Mapped[str] = mapped_column(String(80), nullable=False)
    nom: Mapped[str] = mapped_column(String(MAX_NOM), nullable=False)
    owner_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    #: shared with the territory below (none of the three: the nation, for a national owner)
    partagee: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    region_id: Mapped[Optional[int]] = mapped_column(ForeignKey("region.id"))
    departement_id: Mapped[Optional[int]] = mapped_column(ForeignKey("departement.id"))
    operateur_id: Mapped[Optional[int]] = mapped_column(ForeignKey("operateur.id"))
    #: the role (FAB role name) whose users get this view when they open the page bare
    role_defaut: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    etat: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow,
                                                    onupdate=utcnow)

    region: Mapped[Optional[Region]] = relationship(foreign_keys=[region_id])
    departement: Mapped[Optional[Departement]] = relationship(foreign_keys=[departement_id])
    operateur: Mapped[Optional[Operateur]] = relationship(foreign_keys=[operateur_id])

    def __str__(self) -> str:
        return self.nom
