"""The yearly budget dialogue: the procedure's commands, each through the write gate.

open (a budget campaign) → file (the opérateur's budget prévisionnel, by form or workbook) →
propose (the agent, per line: amount and reason) → answer (the opérateur, per proposal: accept
or counter with a reason, within ``delai_reponse`` days) → decide (the agent: the retained
amounts become the year's dotation accordée, the notification is generated and stored).

Each command checks every value first and raises once (``DialogueError``, French messages,
nothing written), asks the gate (``WriteRefused``: role 403, territory 404, State fields 403,
stale version 409), then writes in one transaction. Who and when of every step sit on the
dialogue; every field change also lands in the change history (``Versioned`` rows).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping, Optional

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campagnes import open_campagne
from app.gate import Denial, Gate, WriteRefused
from app.scope import Scope
from app.sheets.kinds import CellError, parse_number
from models import BudgetAnnee, PlacesAnnee
from models.base import utcnow
from models.campagne import Campagne
from models.dialogue import DialogueBudgetaire, DialogueLigne, ReponseLigne, StatutDialogue

#: Days an opérateur has to answer the State's proposals (the legal delay, configurable).
DELAI_REPONSE = 8
#: The default filing deadline: 31 October of the year before the budget's.
ECHEANCE_MOIS, ECHEANCE_JOUR = 10, 31
#: The compte administratif of year N is due by 30 April N+1 (configurable at the opening).
ECHEANCE_CA_MOIS, ECHEANCE_CA_JOUR = 4, 30
MAX_AMOUNT = Decimal("999999999999")
#: The agent's area (the operators' role lacks it: the gate refuses them with 403).
AGENT, OPERATEUR = "campagne", "budget"


@dataclass(frozen=True)
class Ligne:
    """One line of the budget prévisionnel: its code, French label, group and kind."""

    code: str
    label: Any
    groupe: str      #: charges / produits / etp / places
    decimals: int = 2


LIGNES = (
    Ligne("charges_1", _l("Groupe I – Charges afférentes à l'exploitation courante"), "charges"),
    Ligne("charges_2", _l("Groupe II – Charges afférentes au personnel"), "charges"),
    Ligne("charges_3", _l("Groupe III – Charges afférentes à la structure"), "charges"),
    Ligne("produits_1", _l("Groupe I – Produits de la tarification (dotation demandée)"), "produits"),
    Ligne("produits_2", _l("Groupe II – Autres produits relatifs à l'exploitation"), "produits"),
    Ligne("produits_3", _l("Groupe III – Produits financiers et non encaissables"), "produits"),
    Ligne("etp_direction", _l("ETP direction et encadrement"), "etp"),
    Ligne("etp_administration", _l("ETP administration et gestion"), "etp"),
    Ligne("etp_socio_educatif", _l("ETP socio-éducatif"), "etp"),
    Ligne("etp_autres", _l("ETP services généraux et autres"), "etp"),
    Ligne("places", _l("Places"), "places", 0),
)
BY_CODE = {ligne.code: ligne for ligne in LIGNES}
DOTATION = "produits_1"
GROUPES = {"charges": _l("Charges"), "produits": _l("Produits"), "etp": _l("Effectifs (ETP)"),
           "places": _l("Capacité")}


class DialogueError(ValueError):
    """Every reason a dialogue step is refused, in French; nothing was written."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = messages


def default_echeance(annee: int) -> dt.date:
    return dt.date(annee - 1, ECHEANCE_MOIS, ECHEANCE_JOUR)


def default_echeance_ca(annee: int) -> dt.date:
    return dt.date(annee + 1, ECHEANCE_CA_MOIS, ECHEANCE_CA_JOUR)


def read_amount(code: str, raw: Any, errors: list[str], required: bool = False) -> Optional[Decimal]:
    """A typed amount (French text or a number from a workbook), checked; ``None`` when blank.
    A mistake adds a French message to ``errors``."""
    ligne = BY_CODE[code]
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            errors.append(_("« %(l)s » : montant obligatoire.", l=ligne.label))
        return None
    try:
        value = parse_number(raw if not isinstance(raw, str) else raw[:40])
    except (CellError, ValueError, ArithmeticError):
        errors.append(_("« %(l)s » : « %(v)s » n'est pas un nombre (exemple : 1 647 860,15).",
                        l=ligne.label, v=str(raw)[:40]))
        return None
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        errors.append(_("« %(l)s » : le montant doit être positif et raisonnable.", l=ligne.label))
        return None
    if ligne.decimals == 0 and value != value.to_integral():
        errors.append(_("« %(l)s » : nombre entier attendu.", l=ligne.label))
        return None
    return value.quantize(Decimal(1) if ligne.decimals == 0 else Decimal("0.01"))


def _text(raw: Any, limit: int = 2000) -> str:
    return str(raw or "").strip()[:limit]


def _gate(session: Session, scope: Scope, dialogue: DialogueBudgetaire, values: dict, version: Any,
          area: str, operateur_only: bool, tampered: Optional[Mapping[str, Any]] = None) -> Gate:
    """The gate's verdict on a step (role, territory, State fields, version), raised at once;
    a step of the other side is refused with 403. ``tampered``: fields of the dialogue the
    request sent besides the step's (an opérateur setting the decision): the gate judges them."""
    gate = Gate(scope, session)
    values = {**(tampered or {}), **values}
    refused = gate.check(DialogueBudgetaire, dialogue, values, version, rules=False, area=area)
    if not refused and operateur_only != scope.is_operateur:
        message = (_("Seul l'opérateur de la structure dépose son budget et répond aux propositions.")
                   if operateur_only else _("Seuls les services de l'État proposent et décident."))
        refused = [Denial(None, message, 403)]
    if refused:
        raise WriteRefused(refused)
    return gate


def _line_gate(gate: Gate, ligne: Optional[DialogueLigne], values: dict, area: str) -> None:
    refused = gate.check(DialogueLigne, ligne, values, rules=False, area=area)
    if refused:
        raise WriteRefused(refused)


# --- opening --------------------------------------------------------------------------------
def open_dialogues(session: Session, scope: Scope, annee: int, departement_ids: list[int],
                   echeance: Optional[dt.date], username: Optional[str],
                   delai: int = DELAI_REPONSE, echeance_ca: Optional[dt.date] = None) -> Campagne:
    """The budget campaign of year ``annee`` on these départements (``app.campagnes``: the gate
    keeps them inside the territory), with one dialogue per structure. ``echeance_ca``: when
    the year's compte administratif is due (30 April of the next year by default)."""
    echeance = echeance or default_echeance(annee)
    echeance_ca = echeance_ca or default_echeance_ca(annee)
    if not 1 <= int(delai) <= 60:
        raise DialogueError([_("Le délai de réponse doit être compris entre 1 et 60 jours.")])
    if echeance_ca.year not in (annee, annee + 1):
        raise DialogueError([_("L'échéance du compte administratif doit tomber en %(y)s ou %(z)s.",
                               y=annee, z=annee + 1)])
    campagne = open_campagne(session, scope, _("Dialogue budgétaire %(y)s", y=annee), departement_ids,
                             [annee], ["Budgets"], echeance, username)
    existing = set(session.scalars(select(DialogueBudgetaire.structure_id).where(
        DialogueBudgetaire.annee == annee)))
    for tache in campagne.taches:
        if tache.structure_id not in existing:
            session.add(DialogueBudgetaire(structure_id=tache.structure_id, annee=annee,
                                           campagne_id=campagne.id, echeance_depot=echeance,
                                           delai_reponse=int(delai), echeance_ca=echeance_ca))
    session.commit()
    return campagne


# --- 1. the opérateur files its budget prévisionnel ---------------------------------------------
def file_budget(session: Session, scope: Scope, dialogue: DialogueBudgetaire,
                values: Mapping[str, Any], version: Any, username: str, via: str = "formulaire",
                commentaire: str = "", tampered: Optional[Mapping[str, Any]] = None) -> None:
    """Record the opérateur's request, line by line; every charge and produit line is required."""
    gate = _gate(session, scope, dialogue, {"statut": StatutDialogue.DEPOSE}, version, OPERATEUR, True,
                 tampered)
    errors: list[str] = []
    if dialogue.statut not in (StatutDialogue.A_DEPOSER, StatutDialogue.DEPOSE):
        errors.append(_("Le budget ne peut plus être modifié : l'État a fait ses propositions."))
    amounts = {ligne.code: read_amount(ligne.code, values.get(ligne.code), errors,
                                       required=ligne.groupe in ("charges", "produits"))
               for ligne in LIGNES}
    if errors:
        raise DialogueError(errors)
    for rang, ligne in enumerate(LIGNES):
        stored = dialogue.ligne(ligne.code)
        _line_gate(gate, stored, {"demande": amounts[ligne.code]}, OPERATEUR)
        if stored is None:
            dialogue.lignes.append(DialogueLigne(code=ligne.code, rang=rang, demande=amounts[ligne.code]))
        else:
            stored.demande = amounts[ligne.code]
    dialogue.statut = StatutDialogue.DEPOSE
    dialogue.depose_le, dialogue.depose_par, dialogue.depose_via = utcnow(), username, via
    dialogue.commentaire = _text(commentaire, 5000) or dialogue.commentaire
    session.commit()


# --- 2. the agent proposes ----------------------------------------------------------------------
def propose(session: Session, scope: Scope, dialogue: DialogueBudgetaire,
            proposals: Mapping[str, tuple[Any, Any]], version: Any, username: str,
            today: Optional[dt.date] = None) -> None:
    """The State's proposals: per line an amount and a reason (lines left blank: as asked)."""
    today = today or dt.date.today()
    gate = _gate(session, scope, dialogue, {"statut": StatutDialogue.PROPOSE,
                                            "propose_par": username}, version, AGENT, False)
    errors: list[str] = []
    if dialogue.statut is not StatutDialogue.DEPOSE:
        errors.append(_("Les propositions se font sur un budget déposé et pas encore discuté."))
    wanted: dict[str, tuple[Decimal, str]] = {}
    for code, (raw, motif) in proposals.items():
        if code not in BY_CODE:
            errors.append(_("Ligne inconnue : %(c)s.", c=str(code)[:30]))
            continue
        amount = read_amount(code, raw, errors)
        if amount is None:
            continue
        if not _text(motif):
            errors.append(_("« %(l)s » : motivez la proposition.", l=BY_CODE[code].label))
        wanted[code] = (amount, _text(motif))
    if not wanted and not errors:
        errors.append(_("Aucune proposition : indiquez au moins un montant et son motif."))
    if errors:
        raise DialogueError(errors)
    for code, (amount, motif) in wanted.items():
        ligne = dialogue.ligne(code)
        if ligne is None:
            ligne = DialogueLigne(code=code, rang=list(BY_CODE).index(code))
            dialogue.lignes.append(ligne)
        _line_gate(gate, ligne, {"propose": amount, "motif": motif}, AGENT)
        ligne.propose, ligne.motif = amount, motif
    dialogue.statut = StatutDialogue.PROPOSE
    dialogue.propose_le, dialogue.propose_par = utcnow(), username
    dialogue.echeance_reponse = today + dt.timedelta(days=dialogue.delai_reponse)
    session.commit()


# --- 3. the opérateur answers -------------------------------------------------------------------
def answer(session: Session, scope: Scope, dialogue: DialogueBudgetaire,
           answers: Mapping[str, tuple[Any, Any, Any]], version: Any, username: str,
           tampered: Optional[Mapping[str, Any]] = None) -> None:
    """The opérateur's answer to each proposal: « accepte », or « contre » with an amount and a
    reason."""
    gate = _gate(session, scope, dialogue, {"statut": StatutDialogue.REPONDU}, version, OPERATEUR, True,
                 tampered)
    errors: list[str] = []
    if dialogue.statut is not StatutDialogue.PROPOSE:
        errors.append(_("Il n'y a pas de proposition de l'État en attente de réponse."))
    parsed: dict[str, tuple[ReponseLigne, Optional[Decimal], str]] = {}
    for ligne in (x for x in dialogue.lignes if x.propose is not None):
        choice, raw, motif = answers.get(ligne.code, (None, None, None))
        label = BY_CODE[ligne.code].label
        if choice not in (ReponseLigne.ACCEPTE.value, ReponseLigne.CONTRE.value):
            errors.append(_("« %(l)s » : acceptez la proposition ou faites une contre-proposition.", l=label))
            continue
        amount = None
        if choice == ReponseLigne.CONTRE.value:
            amount = read_amount(ligne.code, raw, errors, required=True)
            if not _text(motif):
                errors.append(_("« %(l)s » : motivez la contre-proposition.", l=label))
        parsed[ligne.code] = (ReponseLigne(choice), amount, _text(motif))
    if errors:
        raise DialogueError(errors)
    for code, (choice, amount, motif) in parsed.items():
        ligne = dialogue.ligne(code)
        _line_gate(gate, ligne, {"reponse": choice, "contre": amount, "motif_reponse": motif}, OPERATEUR)
        ligne.reponse, ligne.contre, ligne.motif_reponse = choice, amount, motif or None
    dialogue.statut = StatutDialogue.REPONDU
    dialogue.repondu_le, dialogue.repondu_par = utcnow(), username
    session.commit()


# --- 4. the agent decides ----------------------------------------------------------------------
def retained(ligne: DialogueLigne, override: Optional[Decimal] = None) -> Optional[Decimal]:
    """The amount a line ends with: the agent's pick on a counter-proposal (by default the
    State's proposal), the accepted proposal, or the request when nothing was proposed."""
    if ligne.propose is None:
        return ligne.demande
    if ligne.reponse is ReponseLigne.CONTRE and override is not None:
        return override
    return ligne.propose


def prepare_decision(session: Session, scope: Scope, dialogue: DialogueBudgetaire,
                     choices: Mapping[str, Any], version: Any, username: str,
                     today: Optional[dt.date] = None) -> dict[str, Optional[Decimal]]:
    """Check a decision and return the retained amount of every line (nothing written).
    The agent decides once the opérateur answered, or once its delay ran out."""
    today = today or dt.date.today()
    gate = _gate(session, scope, dialogue, {"statut": StatutDialogue.DECIDE, "decide_par": username},
                 version, AGENT, False)
    errors: list[str] = []
    late = (dialogue.statut is StatutDialogue.PROPOSE and dialogue.echeance_reponse is not None
            and dialogue.echeance_reponse < today)
    if dialogue.statut is not StatutDialogue.REPONDU and not late:
        errors.append(_("La décision suit la réponse de l'opérateur (ou la fin de son délai)."))
    picks: dict[str, Optional[Decimal]] = {}
    for ligne in dialogue.lignes:
        override = None
        if ligne.reponse is ReponseLigne.CONTRE:
            override = read_amount(ligne.code, choices.get(ligne.code), errors, required=True)
        picks[ligne.code] = retained(ligne, override)
    if picks.get(DOTATION) is None and not errors:
        errors.append(_("La dotation (produits du groupe I) n'a pas de montant."))
    if errors:
        raise DialogueError(errors)
    for ligne in dialogue.lignes:
        _line_gate(gate, ligne, {"retenu": picks[ligne.code]}, AGENT)
    return picks


def apply_decision(session: Session, scope: Scope, dialogue: DialogueBudgetaire,
                   picks: Mapping[str, Optional[Decimal]], username: str) -> BudgetAnnee:
    """Write the decision (not committed): retained lines, the dialogue's decision, and the
    year's budget (dotation accordée, totals, ETP) through the gate, so the change history
    keeps the former values."""
    for ligne in dialogue.lignes:
        ligne.retenu = picks[ligne.code]
    dialogue.statut = StatutDialogue.DECIDE
    dialogue.decide_le, dialogue.decide_par = utcnow(), username
    dialogue.dotation_accordee = picks[DOTATION]
    dialogue.numero = f"DBT-{dialogue.annee}-{dialogue.id:06d}"
    total = totals(dialogue, "retenu")
    budget = session.scalar(select(BudgetAnnee).where(BudgetAnnee.structure_id == dialogue.structure_id,
                                                      BudgetAnnee.annee == dialogue.annee))
    values = {"dotation_demandee": dialogue.ligne(DOTATION).demande, "dotation_accordee": picks[DOTATION],
              "total_charges": totals(dialogue, "demande").get("charges"),
              "total_charges_proposees": total.get("charges"), "total_produits": total.get("produits"),
              "etp": total.get("etp")}
    gate = Gate(scope, session)
    if budget is None:
        values["structure_id"] = dialogue.structure_id
        refused = gate.check(BudgetAnnee, None, values)
    else:
        refused = gate.check(BudgetAnnee, budget, values)
    if refused:
        raise WriteRefused(refused)
    if budget is None:
        budget = BudgetAnnee(annee=dialogue.annee, **values)
        session.add(budget)
    else:
        for key, value in values.items():
            setattr(budget, key, value)
    return budget


def totals(dialogue: DialogueBudgetaire, column: str = "demande") -> dict[str, Optional[Decimal]]:
    """Sum of each group of lines for one column (demande, propose, retenu)."""
    out: dict[str, Optional[Decimal]] = {}
    for ligne in dialogue.lignes:
        groupe = BY_CODE[ligne.code].groupe
        value = getattr(ligne, column)
        if column == "propose" and value is None:
            value = ligne.demande
        if value is not None:
            out[groupe] = (out.get(groupe) or Decimal(0)) + value
        else:
            out.setdefault(groupe, None)
    return out


def places_of(session: Session, dialogue: DialogueBudgetaire) -> Optional[int]:
    """The places of the request, else the authorised places of the year (or the latest)."""
    ligne = dialogue.ligne("places")
    if ligne is not None and (ligne.retenu or ligne.demande):
        return int(ligne.retenu or ligne.demande)
    return session.scalar(select(PlacesAnnee.places_autorisees).where(
        PlacesAnnee.structure_id == dialogue.structure_id, PlacesAnnee.annee <= dialogue.annee,
        PlacesAnnee.places_autorisees.is_not(None)).order_by(PlacesAnnee.annee.desc()).limit(1))
