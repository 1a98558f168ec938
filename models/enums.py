"""Enumerations of the domain, each with its French label (shown and accepted on import)."""
from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l


class LabelledEnum(str, enum.Enum):
    """A str enum whose members carry a user-facing label."""

    label: str

    def __new__(cls, value: str, label):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label
        return obj

    def __str__(self) -> str:
        return str(self.label)

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, str(m.label)) for m in cls]


#: The states of a background task (a scheduled job, an export), in the order it goes through
#: them: lowercase French words, as every stored status (``StatutTache``, ``StatutDialogue``…).
PENDING, RUNNING, DONE, FAILED, EXPIRED = "en_attente", "en_cours", "termine", "echec", "expire"


class TypeStructure(LabelledEnum):
    CADA = "CADA", "CADA"
    HUDA = "HUDA", "HUDA"
    CPH = "CPH", "CPH"
    CAES = "CAES", "CAES"
    PRAHDA = "PRAHDA", "PRAHDA"

    @property
    def autorisee(self) -> bool:
        return self in (TypeStructure.CADA, TypeStructure.CPH)

    @property
    def subventionnee(self) -> bool:
        return self in (TypeStructure.HUDA, TypeStructure.CAES)


class Public(LabelledEnum):
    TOUT_PUBLIC = "TOUT_PUBLIC", _l("Tout public")
    FAMILLE = "FAMILLE", _l("Famille")
    PERSONNES_ISOLEES = "PERSONNES_ISOLEES", _l("Personnes isolées")


class Repartition(LabelledEnum):
    DIFFUS = "DIFFUS", _l("Diffus")
    COLLECTIF = "COLLECTIF", _l("Collectif")


class TypeConvention(LabelledEnum):
    CONVENTION = "CONVENTION", _l("Convention")
    CPOM = "CPOM", _l("CPOM")
    ARRETE_AUTORISATION = "ARRETE_AUTORISATION", _l("Arrêté d'autorisation")
    ARRETE_TARIFICATION = "ARRETE_TARIFICATION", _l("Arrêté de tarification")
    AVENANT = "AVENANT", _l("Avenant")


class StatutConvention(LabelledEnum):
    BROUILLON = "BROUILLON", _l("Brouillon")
    EN_NEGOCIATION = "EN_NEGOCIATION", _l("En négociation")
    SIGNEE = "SIGNEE", _l("Signée")
    ECHUE = "ECHUE", _l("Échue")
    RESILIEE = "RESILIEE", _l("Résiliée")


#: Allowed moves of the convention workflow.
TRANSITIONS_CONVENTION = {
    StatutConvention.BROUILLON: {StatutConvention.EN_NEGOCIATION},
    StatutConvention.EN_NEGOCIATION: {StatutConvention.BROUILLON, StatutConvention.SIGNEE},
    StatutConvention.SIGNEE: {StatutConvention.ECHUE, StatutConvention.RESILIEE},
    StatutConvention.ECHUE: set(),
    StatutConvention.RESILIEE: set(),
}


class TypeControle(LabelledEnum):
    INOPINE = "INOPINE", _l("Inopiné")
    PROGRAMME = "PROGRAMME", _l("Programmé")


class TypeContact(LabelledEnum):
    PRINCIPAL = "PRINCIPAL", _l("Principal")
    SECONDAIRE = "SECONDAIRE", _l("Secondaire")
    AUTRE = "AUTRE", _l("Autre")


class CategorieDocument(LabelledEnum):
    ARRETE_AUTORISATION = "ARRETE_AUTORISATION", _l("Arrêté d'autorisation")
    CONVENTION = "CONVENTION", _l("Convention")
    CPOM = "CPOM", _l("CPOM")
    ARRETE_TARIFICATION = "ARRETE_TARIFICATION", _l("Arrêté de tarification")
    INSPECTION_CONTROLE = "INSPECTION_CONTROLE", _l("Inspection / contrôle")
    EVALUATION = "EVALUATION", _l("Évaluation")
    AUTRE = "AUTRE", _l("Autre acte")
    BUDGET_PREVISIONNEL_DEMANDE = "BUDGET_PREVISIONNEL_DEMANDE", _l("Budget prévisionnel demandé")
    BUDGET_PREVISIONNEL_RETENU = "BUDGET_PREVISIONNEL_RETENU", _l("Budget prévisionnel retenu")
    BUDGET_RECTIFICATIF = "BUDGET_RECTIFICATIF", _l("Budget rectificatif")
    RAPPORT_BUDGETAIRE = "RAPPORT_BUDGETAIRE", _l("Rapport budgétaire")
    COMPTE_ADMINISTRATIF_SOUMIS = "COMPTE_ADMINISTRATIF_SOUMIS", _l("Compte administratif soumis")
    COMPTE_ADMINISTRATIF_RETENU = "COMPTE_ADMINISTRATIF_RETENU", _l("Compte administratif retenu")
    RAPPORT_ACTIVITE = "RAPPORT_ACTIVITE", _l("Rapport d'activité")
    DEMANDE_SUBVENTION = "DEMANDE_SUBVENTION", _l("Demande de subvention")
    COMPTE_RENDU_FINANCIER = "COMPTE_RENDU_FINANCIER", _l("Compte rendu financier")
    RAPPORT_ACTIVITE_OPERATEUR = "RAPPORT_ACTIVITE_OPERATEUR", _l("Rapport d'activité opérateur")
    AUTRE_FINANCIER = "AUTRE_FINANCIER", _l("Autre document financier")


class Role(LabelledEnum):
    """The six roles of BHasile; the value is the FAB role name."""

    ADMIN = "Administrateur", _l("Administrateur")
    CENTRAL = "Administration centrale", _l("Administration centrale")
    REGIONAL = "Agent régional", _l("Agent régional")
    DEPARTEMENTAL = "Agent départemental", _l("Agent départemental")
    LECTEUR = "Lecteur", _l("Lecteur")
    OPERATEUR = "Opérateur", _l("Opérateur")
