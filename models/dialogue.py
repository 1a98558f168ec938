"""The yearly budget dialogue between an opérateur and the State, per structure and year.

The opérateur files its budget prévisionnel line by line; the agent proposes changes on some
lines (amount and reason); the opérateur accepts or counters each proposal; the agent
decides. Every step keeps who did it and when.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Money, Versioned, enum_column, utcnow
from .enums import LabelledEnum, TypeStructure


class StatutDialogue(LabelledEnum):
    """Where a structure's dialogue stands (the order is the procedure's)."""

    A_DEPOSER = "a_deposer", _l("À déposer")
    DEPOSE = "depose", _l("Déposé")
    PROPOSE = "propose", _l("Propositions de l'État")
    REPONDU = "repondu", _l("Réponses de l'opérateur")
    DECIDE = "decide", _l("Décidé")


class ReponseLigne(LabelledEnum):
    ACCEPTE = "accepte", _l("Acceptée")
    CONTRE = "contre", _l("Contre-proposition")


class DialogueBudgetaire(Versioned, Model):
    """One structure's budget dialogue for one year: the steps, their dates and signers."""

    __tablename__ = "dialogue_budgetaire"
    __table_args__ = (UniqueConstraint("structure_id", "annee", name="uq_dialogue_structure_annee"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id", ondelete="CASCADE"),
                                              nullable=False, index=True)
    annee: Mapped[int] = mapped_column(nullable=False, index=True)
    campagne_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("campagne.id", ondelete="SET NULL"), index=True)
    statut: Mapped[StatutDialogue] = mapped_column(enum_column(StatutDialogue), nullable=False,
                                                   default=StatutDialogue.A_DEPOSER, index=True)
    echeance_depot: Mapped[Optional[dt.date]] = mapped_column(Date)
    delai_reponse: Mapped[int] = mapped_column(Integer, nullable=False, default=8)
    echeance_reponse: Mapped[Optional[dt.date]] = mapped_column(Date)
    depose_le: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    depose_par: Mapped[Optional[str]] = mapped_column(String(128))
    depose_via: Mapped[Optional[str]] = mapped_column(String(20))   #: formulaire / classeur
    propose_le: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    propose_par: Mapped[Optional[str]] = mapped_column(String(128))
    repondu_le: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    repondu_par: Mapped[Optional[str]] = mapped_column(String(128))
    decide_le: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    decide_par: Mapped[Optional[str]] = mapped_column(String(128))
    dotation_accordee: Mapped[Optional[Decimal]] = mapped_column(Money)
    numero: Mapped[Optional[str]] = mapped_column(String(40), unique=True)
    document_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("document.id", ondelete="SET NULL", name="fk_dialogue_document_id"))
    commentaire: Mapped[Optional[str]] = mapped_column(Text)
    # the compte administratif of the year (after the decision): filed by the opérateur with
    # its proposed affectation du résultat, settled by the agent (``app.campagnes.dialogue_compte``)
    echeance_ca: Mapped[Optional[dt.date]] = mapped_column(Date)
    ca_depose_le: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    ca_depose_par: Mapped[Optional[str]] = mapped_column(String(128))
    resultat: Mapped[Optional[Decimal]] = mapped_column(Money)
    affectation_proposee: Mapped[Optional[str]] = mapped_column(String(30))
    ca_commentaire: Mapped[Optional[str]] = mapped_column(Text)
    affectation_retenue: Mapped[Optional[str]] = mapped_column(String(30))
    motif_affectation: Mapped[Optional[str]] = mapped_column(Text)
    ca_arrete_le: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    ca_arrete_par: Mapped[Optional[str]] = mapped_column(String(128))
    #: the draft avenant to the structure's convention the decision generated (structures under
    #: convention or CPOM members, ``app.campagnes.dialogue_avenant``)
    avenant_document_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("document.id", ondelete="SET NULL", name="fk_dialogue_avenant_document_id"))

    structure: Mapped["Structure"] = relationship()  # noqa: F821
    document: Mapped[Optional["Document"]] = relationship(foreign_keys=[document_id])  # noqa: F821
    avenant_document: Mapped[Optional["Document"]] = relationship(  # noqa: F821
        foreign_keys=[avenant_document_id])
    lignes: Mapped[list["DialogueLigne"]] = relationship(
        back_populates="dialogue", cascade="all, delete-orphan", order_by="DialogueLigne.rang")

    def ligne(self, code: str) -> Optional["DialogueLigne"]:
        return next((ligne for ligne in self.lignes if ligne.code == code), None)

    def __str__(self) -> str:
        return f"{self.annee}"


class DialogueLigne(Versioned, Model):
    """One line of a budget prévisionnel: asked, proposed by the State, answered, retained."""

    __tablename__ = "dialogue_ligne"
    __table_args__ = (UniqueConstraint("dialogue_id", "code", name="uq_dialogue_ligne_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogue_budgetaire.id", ondelete="CASCADE"),
                                             nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(30), nullable=False)
    rang: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    demande: Mapped[Optional[Decimal]] = mapped_column(Money)
    propose: Mapped[Optional[Decimal]] = mapped_column(Money)
    motif: Mapped[Optional[str]] = mapped_column(Text)
    reponse: Mapped[Optional[ReponseLigne]] = mapped_column(enum_column(ReponseLigne))
    contre: Mapped[Optional[Decimal]] = mapped_column(Money)
    motif_reponse: Mapped[Optional[str]] = mapped_column(Text)
    retenu: Mapped[Optional[Decimal]] = mapped_column(Money)
    realise: Mapped[Optional[Decimal]] = mapped_column(Money)  #: the compte administratif's amount

    dialogue: Mapped[DialogueBudgetaire] = relationship(back_populates="lignes")

    def __str__(self) -> str:
        return self.code


class PlafondCout(Versioned, Model):
    """The yearly ceiling of the coût journalier à la place for one type of structure."""

    __tablename__ = "plafond_cout"
    __table_args__ = (UniqueConstraint("type", "annee", name="uq_plafond_type_annee"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[TypeStructure] = mapped_column(enum_column(TypeStructure), nullable=False)
    annee: Mapped[int] = mapped_column(nullable=False)
    plafond: Mapped[Decimal] = mapped_column(Money, nullable=False)


class ModeleDocument(Model):
    """A DOCX template the central administration uploads (the newest of a kind is used); kept
    in the database, not in the documents' storage, whose files all belong to a document."""

    __tablename__ = "modele_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    nature: Mapped[str] = mapped_column(String(30), nullable=False, index=True)  #: notification
    nom_original: Mapped[str] = mapped_column(String(255), nullable=False)
    contenu: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    uploaded_by: Mapped[Optional[str]] = mapped_column(String(128))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
