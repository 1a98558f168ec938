"""What the budget dialogue shows: the agent's analysis (five years of history, peer
quartiles, coût journalier against the yearly ceiling), the deadlines of « À traiter », the
dashboard per territory and the Excel export of every proposal of the territory."""
from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Optional

import xlsxwriter
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campagnes.dialogue import BY_CODE, DialogueError, DOTATION, places_of, totals
from app.campagnes.dialogue_compte import late_compte, reminder
from app.pilotage.indicators import cout_journalier
from app.scope import Scope, condition_for, structure_condition
from app.pilotage.seuils import seuils
from app.sheets.kinds import CellError, parse_number
from app.pilotage.tarification import Distributions, Position
from models import BudgetAnnee, Departement, PlacesAnnee, Structure
from models.dialogue import DialogueBudgetaire, PlafondCout, StatutDialogue

HISTORY_YEARS = 5


def ceiling(session: Session, type_: str, annee: int) -> tuple[float, bool]:
    """The coût journalier ceiling of a type for a year: the configured one (True), else the
    alert threshold of ``app.pilotage.seuils`` (False)."""
    found = session.scalar(select(PlafondCout.plafond).where(PlafondCout.type == type_,
                                                             PlafondCout.annee == annee))
    if found is not None:
        return float(found), True
    return float(seuils(type_)["cout_max"]), False


def set_ceilings(session: Session, annee: str, values: dict[str, str]) -> None:
    """Record the ceilings typed for a year (blank: unchanged); every mistake raised at once."""
    errors: list[str] = []
    year = int(annee) if str(annee).isdigit() and 2000 <= int(annee) <= 2100 else None
    if year is None:
        errors.append(_("Année invalide."))
    parsed = {}
    for type_, raw in values.items():
        if not str(raw).strip():
            continue
        try:
            value = parse_number(str(raw)[:20])
        except (CellError, ValueError, ArithmeticError):
            value = None
        if value is None or not value.is_finite() or not 0 < value < 10000:
            errors.append(_("Plafond %(t)s : montant invalide (exemple : 24,50).", t=type_))
        else:
            parsed[type_] = value
    if errors:
        raise DialogueError(errors)
    for type_, value in parsed.items():
        found = session.scalar(select(PlafondCout).where(PlafondCout.type == type_, PlafondCout.annee == year))
        if found is None:
            session.add(PlafondCout(type=type_, annee=year, plafond=value))
        else:
            found.plafond = value
    session.commit()


@dataclass
class Analysis:
    """Beside the request: history, peers, the coût journalier and the ceiling."""

    history: list[dict]
    places: Optional[int]
    cout_demande: Optional[float]
    cout_propose: Optional[float]
    cout_retenu: Optional[float]
    plafond: float
    plafond_configure: bool
    region: Position
    national: Position
    totals: dict = field(default_factory=dict)


def history(session: Session, dialogue: DialogueBudgetaire) -> list[dict]:
    """The five years before the dialogue's: places, budgets, accounts' result."""
    years = list(range(dialogue.annee - HISTORY_YEARS, dialogue.annee))
    budgets = {b.annee: b for b in session.scalars(select(BudgetAnnee).where(
        BudgetAnnee.structure_id == dialogue.structure_id, BudgetAnnee.annee.in_(years)))}
    places = dict(session.execute(select(PlacesAnnee.annee, PlacesAnnee.places_autorisees).where(
        PlacesAnnee.structure_id == dialogue.structure_id, PlacesAnnee.annee.in_(years))).all())
    rows = []
    for year in years:
        b = budgets.get(year)
        rows.append({"annee": year, "places": places.get(year),
                     "dotation_demandee": b.dotation_demandee if b else None,
                     "dotation_accordee": b.dotation_accordee if b else None,
                     "total_charges": b.total_charges if b else None,
                     "resultat": b.resultat_net if b else None,
                     "cout": cout_journalier(b.dotation_accordee if b else None, places.get(year), year)})
    return rows


def analyse(session: Session, dialogue: DialogueBudgetaire) -> Analysis:
    structure = dialogue.structure
    places = places_of(session, dialogue)
    asked, proposed, kept = (totals(dialogue, c) for c in ("demande", "propose", "retenu"))
    dot = dialogue.ligne(DOTATION)

    def cout(value):
        return cout_journalier(value, places, dialogue.annee)

    plafond, configured = ceiling(session, structure.type.value, dialogue.annee)
    region_id = session.scalar(select(Departement.region_id).where(Departement.id == structure.departement_id))
    dist = Distributions()
    value = cout(dot.demande) if dot else None
    return Analysis(history(session, dialogue), places, value,
                    cout(dot.propose if dot and dot.propose is not None else (dot.demande if dot else None)),
                    cout(dialogue.dotation_accordee), plafond, configured,
                    dist.position("cout_journalier", structure.type.value, region_id, value),
                    dist.position("cout_journalier", structure.type.value, None, value),
                    {"demande": asked, "propose": proposed, "retenu": kept})


# --- deadlines ---------------------------------------------------------------------------------
def late(dialogue: DialogueBudgetaire, today: dt.date) -> Optional[str]:
    """Why a dialogue is late, or ``None``."""
    if dialogue.statut is StatutDialogue.DECIDE:
        return late_compte(dialogue, today)
    if dialogue.statut is StatutDialogue.A_DEPOSER and dialogue.echeance_depot \
            and dialogue.echeance_depot < today:
        return _("budget prévisionnel non déposé (échéance %(d)s)", d=dialogue.echeance_depot.strftime("%d/%m/%Y"))
    if dialogue.statut is StatutDialogue.PROPOSE and dialogue.echeance_reponse \
            and dialogue.echeance_reponse < today:
        return _("réponse de l'opérateur en retard (échéance %(d)s)",
                 d=dialogue.echeance_reponse.strftime("%d/%m/%Y"))
    return None


def reminders(session: Session, scope: Scope, today: dt.date) -> list[tuple[int, str, str, str]]:
    """What each side must do next, for « À traiter »: (dialogue id, code DNA, name, detail)."""
    mine = ((StatutDialogue.A_DEPOSER, StatutDialogue.PROPOSE) if scope.is_operateur
            else (StatutDialogue.DEPOSE, StatutDialogue.REPONDU, StatutDialogue.PROPOSE))
    mine = (*mine, StatutDialogue.DECIDE)  # the compte administratif (``app.campagnes.dialogue_compte``)
    rows = session.execute(select(DialogueBudgetaire, Structure.code_dna, Structure.nom)
                           .join(Structure, Structure.id == DialogueBudgetaire.structure_id)
                           .where(condition_for(DialogueBudgetaire, scope), DialogueBudgetaire.statut.in_(mine))
                           .order_by(DialogueBudgetaire.annee, Structure.code_dna)).all()
    out = []
    for d, code, nom in rows:
        if d.statut is StatutDialogue.DECIDE:
            detail = reminder(d, scope.is_operateur, today)
            if detail:
                out.append((d.id, code, nom or "", detail))
            continue
        retard = late(d, today)
        if d.statut is StatutDialogue.PROPOSE and not scope.is_operateur and not retard:
            continue  # the agent waits for the answer until its deadline
        due = d.echeance_reponse if d.statut is StatutDialogue.PROPOSE else d.echeance_depot
        step = {StatutDialogue.A_DEPOSER: _("déposer le budget prévisionnel %(y)s", y=d.annee),
                StatutDialogue.PROPOSE: _("répondre aux propositions de l'État (%(y)s)", y=d.annee),
                StatutDialogue.DEPOSE: _("analyser le budget déposé et proposer (%(y)s)", y=d.annee),
                StatutDialogue.REPONDU: _("décider (%(y)s)", y=d.annee)}[d.statut]
        if retard:
            detail = _("En retard : %(r)s", r=retard)
        elif due and d.statut in (StatutDialogue.A_DEPOSER, StatutDialogue.PROPOSE):
            detail = _("%(s)s avant le %(d)s", s=step, d=due.strftime("%d/%m/%Y"))
        else:
            detail = step
        out.append((d.id, code, nom or "", detail))
    return out


# --- dashboard ---------------------------------------------------------------------------------
def _days(start: Optional[dt.datetime], end: Optional[dt.datetime]) -> Optional[float]:
    return None if not start or not end else (end - start).total_seconds() / 86400


def dashboard(session: Session, scope: Scope, annee: int, condition=None) -> dict:
    """Files received, in discussion, agreed, late; median days per step; amounts requested
    and granted by type — over the territory (and ``condition`` on ``Structure``)."""
    today = dt.date.today()
    query = (select(DialogueBudgetaire, Structure.type).join(Structure, Structure.id == DialogueBudgetaire.structure_id)
             .where(DialogueBudgetaire.annee == annee, structure_condition(scope)))
    if condition is not None:
        query = query.where(condition)
    counts = {"total": 0, "recus": 0, "discussion": 0, "decides": 0, "retard": 0}
    steps: dict[str, list[float]] = {"depot_proposition": [], "proposition_reponse": [], "reponse_decision": []}
    by_type: dict[str, dict] = {}
    for d, type_ in session.execute(query):
        counts["total"] += 1
        counts["recus"] += d.statut is not StatutDialogue.A_DEPOSER
        counts["discussion"] += d.statut in (StatutDialogue.PROPOSE, StatutDialogue.REPONDU)
        counts["decides"] += d.statut is StatutDialogue.DECIDE
        counts["retard"] += late(d, today) is not None
        for key, a, b in (("depot_proposition", d.depose_le, d.propose_le),
                          ("proposition_reponse", d.propose_le, d.repondu_le),
                          ("reponse_decision", d.repondu_le or d.propose_le, d.decide_le)):
            days = _days(a, b)
            if days is not None:
                steps[key].append(days)
        row = by_type.setdefault(type_.value, {"demande": Decimal(0), "accorde": Decimal(0), "n": 0})
        dot = d.ligne(DOTATION)
        if dot is not None and dot.demande is not None:
            row["demande"] += dot.demande
            row["n"] += 1
        row["accorde"] += d.dotation_accordee or 0
    medians = {k: (statistics.median(v) if v else None) for k, v in steps.items()}
    return {"counts": counts, "medians": medians, "by_type": dict(sorted(by_type.items()))}


# --- export of every proposal of the territory -------------------------------------------------
EXPORT_HEADERS = ("Code DNA", "Structure", "Type", "Département", "Année", "Statut", "Ligne",
                  "Demandé", "Proposé par l'État", "Motif", "Réponse", "Contre-proposition",
                  "Motif de la réponse", "Retenu", "Proposé par", "Proposé le", "Échéance de réponse")


def export_proposals(session: Session, scope: Scope, annee: int, out: IO[bytes]) -> int:
    """One row per line the State proposed on, in the territory; returns the number of rows.
    Texts starting like a formula are written as text (no formula injection)."""
    rows = session.execute(
        select(DialogueBudgetaire, Structure, Departement.code)
        .join(Structure, Structure.id == DialogueBudgetaire.structure_id)
        .join(Departement, Departement.id == Structure.departement_id)
        .where(DialogueBudgetaire.annee == annee, condition_for(DialogueBudgetaire, scope))
        .order_by(Departement.code, Structure.code_dna)).all()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    sheet = book.add_worksheet(_("Propositions"))
    bold, money = book.add_format({"bold": True}), book.add_format({"num_format": "# ##0.00"})
    sheet.write_row(0, 0, EXPORT_HEADERS, bold)
    n = 0
    for d, s, dep in rows:
        for ligne in d.lignes:
            if ligne.propose is None:
                continue
            n += 1
            sheet.write_row(n, 0, [s.code_dna, s.nom or "", s.type.value, dep, d.annee, str(d.statut.label),
                                   str(BY_CODE[ligne.code].label)])
            for col, value in ((7, ligne.demande), (8, ligne.propose), (11, ligne.contre), (13, ligne.retenu)):
                if value is not None:
                    sheet.write_number(n, col, float(value), money)
            sheet.write_string(n, 9, ligne.motif or "")
            sheet.write_string(n, 10, str(ligne.reponse.label) if ligne.reponse else "")
            sheet.write_string(n, 12, ligne.motif_reponse or "")
            sheet.write_string(n, 14, d.propose_par or "")
            sheet.write_string(n, 15, d.propose_le.strftime("%d/%m/%Y") if d.propose_le else "")
            sheet.write_string(n, 16, d.echeance_reponse.strftime("%d/%m/%Y") if d.echeance_reponse else "")
    sheet.autofilter(0, 0, max(n, 1), len(EXPORT_HEADERS) - 1)
    sheet.freeze_panes(1, 0)
    book.close()
    return n


