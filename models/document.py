"""Files attached to a structure, a convention or an opérateur."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flask_appbuilder import Model

from .base import enum_column, utcnow
from .enums import CategorieDocument


class Document(Model):
    """A stored file (acte or financial document) with exactly one owner."""

    __tablename__ = "document"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN structure_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN convention_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN operateur_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="ck_document_owner",
        ),
        CheckConstraint("taille >= 0", name="ck_document_taille"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("structure.id", ondelete="CASCADE"), index=True
    )
    convention_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("convention.id", ondelete="CASCADE"), index=True
    )
    operateur_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("operateur.id", ondelete="CASCADE"), index=True
    )
    categorie: Mapped[CategorieDocument] = mapped_column(enum_column(CategorieDocument), nullable=False)
    annee: Mapped[Optional[int]]
    periode_debut: Mapped[Optional[dt.date]] = mapped_column(Date)
    periode_fin: Mapped[Optional[dt.date]] = mapped_column(Date)
    nom_original: Mapped[str] = mapped_column(String(255), nullable=False)
    taille: Mapped[int] = mapped_column(Integer, nullable=False)
    mime_type: Mapped[str] = mapped_column(String(100), nullable=False)
    stockage: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    uploaded_by: Mapped[Optional[str]] = mapped_column(String(128))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    #: An avenant points to the document it amends (same owner).
    parent_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("document.id", ondelete="SET NULL", name="fk_document_parent_id"), index=True
    )

    structure: Mapped[Optional["Structure"]] = relationship()  # noqa: F821
    convention: Mapped[Optional["Convention"]] = relationship()  # noqa: F821
    operateur: Mapped[Optional["Operateur"]] = relationship()  # noqa: F821
    parent: Mapped[Optional["Document"]] = relationship(remote_side=[id], back_populates="avenants")
    avenants: Mapped[list["Document"]] = relationship(back_populates="parent",
                                                      order_by="Document.uploaded_at")

    def __str__(self) -> str:
        return self.nom_original
