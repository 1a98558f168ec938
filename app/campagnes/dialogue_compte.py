"""Step 5 of the budget dialogue: the compte administratif of the year, closing the loop with
what was granted.

After the decision, the opérateur files its compte administratif the way it filed its budget:
the realised charges and produits by groupe fonctionnel (the result is computed: produits −
charges, > 0 an excédent) and the affectation du résultat it proposes, in the vocabulary of
the CASF (art. R. 314-51 for an excédent, R. 314-51 and R. 314-52 for a déficit). The agent
reads it beside the budget prévisionnel and the dotation accordée (the gap per line), then
accepts the affectation or amends it with a reason; the retained affectation lands in the
year's budget (``BudgetAnnee``, its history kept). Every command goes through the write gate
(``app.campagnes.dialogue._gate``: role, territory, State fields, version), checks every value first and
raises once in French, and writes in one transaction.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Mapping, Optional

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campagnes.dialogue import (AGENT, BY_CODE, LIGNES, OPERATEUR, DialogueError, _gate, _line_gate, _text,
                          default_echeance_ca, read_amount)
from app.gate import Gate, WriteRefused
from app.scope import Scope
from models import BudgetAnnee
from models.base import utcnow
from models.dialogue import DialogueBudgetaire, DialogueLigne, StatutDialogue

#: The lines of a compte administratif: the charges and produits groupes of the budget.
LIGNES_CA = tuple(ligne for ligne in LIGNES if ligne.groupe in ("charges", "produits"))

#: How an excédent may be used (CASF, art. R. 314-51), with the year's budget column it lands in.
EXCEDENT = {
    "reduction_charges": (_l("Réduction des charges d'exploitation d'un exercice suivant"), "excedent_deduit"),
    "investissement": (_l("Excédent affecté au financement de mesures d'investissement"), "reserve_investissement"),
    "non_reconductibles": (_l("Financement de mesures d'exploitation non reconductibles"),
                           "charges_non_reconductibles"),
    "reserve_compensation": (_l("Réserve de compensation des déficits"), "reserve_compensation_deficits"),
    "reserve_tresorerie": (_l("Réserve de trésorerie (couverture du besoin en fonds de roulement)"),
                           "reserve_couverture_bfr"),
    "reserve_amortissements": (_l("Réserve de compensation des charges d'amortissement"),
                               "reserve_compensation_amortissements"),
}
#: How a déficit is covered: first by a reprise on the réserve de compensation, else reported.
DEFICIT = {
    "reprise_reserve": (_l("Déficit couvert par reprise sur la réserve de compensation"),
                        "reserve_compensation_deficits"),
    "report_deficit": (_l("Déficit reporté (report à nouveau déficitaire, ajouté aux charges d'un exercice suivant)"),
                       "report_a_nouveau"),
}
AFFECTATIONS = {**EXCEDENT, **DEFICIT}


def echeance_ca(dialogue: DialogueBudgetaire) -> dt.date:
    return dialogue.echeance_ca or default_echeance_ca(dialogue.annee)


def label(code: Optional[str]) -> str:
    return str(AFFECTATIONS[code][0]) if code in AFFECTATIONS else ""


def choices(resultat: Optional[Decimal]) -> dict[str, tuple]:
    """The affectations a result allows: an excédent's, a déficit's (all when unknown)."""
    if resultat is None:
        return AFFECTATIONS
    return DEFICIT if resultat < 0 else EXCEDENT


def resultat(amounts: Mapping[str, Optional[Decimal]]) -> Decimal:
    """Produits − charges (> 0: excédent)."""
    total = Decimal(0)
    for ligne in LIGNES_CA:
        value = amounts.get(ligne.code) or Decimal(0)
        total += value if ligne.groupe == "produits" else -value
    return total


def _check_affectation(code: Any, result: Optional[Decimal], errors: list[str]) -> Optional[str]:
    code = str(code or "").strip()[:40]
    if not code:
        errors.append(_("Choisissez l'affectation du résultat."))
        return None
    if code not in AFFECTATIONS:
        errors.append(_("Affectation du résultat inconnue : %(c)s.", c=code))
        return None
    if code not in choices(result):
        errors.append(_("Cette affectation ne convient pas à un %(r)s.",
                        r=_("déficit") if result is not None and result < 0 else _("excédent")))
        return None
    return code


def is_open(dialogue: DialogueBudgetaire) -> bool:
    """The compte administratif may be filed (the budget was decided; the agent has not settled)."""
    return dialogue.statut is StatutDialogue.DECIDE and dialogue.ca_arrete_le is None


# --- the opérateur files its compte administratif ----------------------------------------------
def file_compte(session: Session, scope: Scope, dialogue: DialogueBudgetaire, values: Mapping[str, Any],
                affectation: Any, commentaire: Any, version: Any, username: str,
                tampered: Optional[Mapping[str, Any]] = None) -> Decimal:
    """Record the realised charges and produits and the proposed affectation; returns the
    result. Filed again until the agent settles it."""
    gate = _gate(session, scope, dialogue, {"ca_depose_par": username}, version, OPERATEUR, True, tampered)
    errors: list[str] = []
    if dialogue.statut is not StatutDialogue.DECIDE:
        errors.append(_("Le compte administratif se dépose une fois le budget de l'année décidé."))
    elif dialogue.ca_arrete_le is not None:
        errors.append(_("Le compte administratif est déjà arrêté par les services de l'État."))
    amounts = {ligne.code: read_amount(ligne.code, values.get(ligne.code), errors, required=True)
               for ligne in LIGNES_CA}
    result = resultat(amounts) if None not in amounts.values() else None
    code = _check_affectation(affectation, result, errors)
    if errors:
        raise DialogueError(errors)
    for ligne in LIGNES_CA:
        stored = dialogue.ligne(ligne.code)
        _line_gate(gate, stored, {"realise": amounts[ligne.code]}, OPERATEUR)
        if stored is None:
            dialogue.lignes.append(DialogueLigne(code=ligne.code, rang=list(BY_CODE).index(ligne.code),
                                                 realise=amounts[ligne.code]))
        else:
            stored.realise = amounts[ligne.code]
    dialogue.resultat, dialogue.affectation_proposee = result, code
    dialogue.ca_commentaire = _text(commentaire, 5000) or None
    dialogue.ca_depose_le, dialogue.ca_depose_par = utcnow(), username
    session.commit()
    return result


# --- the agent settles the affectation ---------------------------------------------------------
def settle_compte(session: Session, scope: Scope, dialogue: DialogueBudgetaire, affectation: Any,
                  motif: Any, version: Any, username: str) -> BudgetAnnee:
    """Accept the proposed affectation, or amend it with a reason; signed and dated. The
    retained affectation's amount lands in the year's budget (through the gate, with history)."""
    _gate(session, scope, dialogue, {"affectation_retenue": affectation, "ca_arrete_par": username},
          version, AGENT, False)
    errors: list[str] = []
    if dialogue.ca_depose_le is None or dialogue.statut is not StatutDialogue.DECIDE:
        errors.append(_("L'opérateur n'a pas encore déposé son compte administratif."))
    elif dialogue.ca_arrete_le is not None:
        errors.append(_("Le compte administratif est déjà arrêté."))
    code = _check_affectation(affectation or dialogue.affectation_proposee, dialogue.resultat, errors)
    reason = _text(motif)
    if code and code != dialogue.affectation_proposee and not reason:
        errors.append(_("Motivez la modification de l'affectation proposée par l'opérateur."))
    if errors:
        raise DialogueError(errors)
    budget = session.scalar(select(BudgetAnnee).where(BudgetAnnee.structure_id == dialogue.structure_id,
                                                      BudgetAnnee.annee == dialogue.annee))
    column = AFFECTATIONS[code][1]
    values = {column: dialogue.resultat}
    gate = Gate(scope, session)
    refused = gate.check(BudgetAnnee, budget, values if budget is not None
                         else {**values, "structure_id": dialogue.structure_id})
    if refused:
        raise WriteRefused(refused)
    if budget is None:
        budget = BudgetAnnee(structure_id=dialogue.structure_id, annee=dialogue.annee, **values)
        session.add(budget)
    else:
        setattr(budget, column, dialogue.resultat)
    dialogue.affectation_retenue, dialogue.motif_affectation = code, reason or None
    dialogue.ca_arrete_le, dialogue.ca_arrete_par = utcnow(), username
    session.commit()
    return budget


# --- what the screens and « À traiter » show ----------------------------------------------------
def ecarts(dialogue: DialogueBudgetaire) -> list[dict]:
    """Per line of the compte: asked, granted (retained), realised, and the gap realised − granted."""
    rows = []
    for ligne in LIGNES_CA:
        stored = dialogue.ligne(ligne.code)
        granted = stored.retenu if stored is not None else None
        done = stored.realise if stored is not None else None
        rows.append({"ligne": ligne, "demande": stored.demande if stored is not None else None,
                     "accorde": granted, "realise": done,
                     "ecart": None if granted is None or done is None else done - granted})
    return rows


def late_compte(dialogue: DialogueBudgetaire, today: dt.date) -> Optional[str]:
    if is_open(dialogue) and dialogue.ca_depose_le is None and echeance_ca(dialogue) < today:
        return _("compte administratif non déposé (échéance %(d)s)", d=echeance_ca(dialogue).strftime("%d/%m/%Y"))
    return None


def reminder(dialogue: DialogueBudgetaire, is_operateur: bool, today: dt.date) -> Optional[str]:
    """What a decided dialogue still asks of this side about its compte administratif."""
    if not is_open(dialogue):
        return None
    retard = late_compte(dialogue, today)
    if retard:
        return _("En retard : %(r)s", r=retard)
    if is_operateur and dialogue.ca_depose_le is None:
        return _("déposer le compte administratif %(y)s avant le %(d)s", y=dialogue.annee,
                 d=echeance_ca(dialogue).strftime("%d/%m/%Y"))
    if not is_operateur and dialogue.ca_depose_le is not None:
        return _("arrêter l'affectation du résultat %(y)s", y=dialogue.annee)
    return None
