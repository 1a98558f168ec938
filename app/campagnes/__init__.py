"""Collection campaigns: opening, the task workflow and the opérateurs' edits.

A campaign asks every structure of a territory for some years of data. Each structure has a
task: non commencé → en cours (the opérateur edits) → transmis → à corriger (an agent's
comment on a section) → validé (every section validated). The sections' verdicts and every
comment are kept across back-and-forths; task changes land in the history through the
``Versioned`` hook of ``app.audit``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Optional

from flask_babel import gettext as _
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.gate import Gate, WriteRefused
from app.rules import RuleError
from app.scope import Scope, condition_for, current_scope
from app.sheets import BY_NAME
from models import Departement, Structure
from models.base import utcnow
from models.campagne import (SECTIONS, Campagne, StatutCampagne, StatutSection,
                             StatutTache, Tache, TacheCommentaire)

#: Sheets a campaign may ask for (the opérateurs' data) and those asked by default.
CAMPAIGN_SHEETS = ("Structures", "Places", "Budgets", "Activité", "Adresses")
DEFAULT_SHEETS = ("Structures", "Places", "Budgets")
MAX_YEARS = 10
#: Table changed by an opérateur → the section of the finalisation it belongs to.
TABLE_SECTIONS = {"structure": "identification", "contact": "identification",
                  "places_annee": "places", "adresse": "places", "adresse_annee": "places",
                  "activite_mensuelle": "places", "budget_annee": "finances",
                  "document": "documents", "controle": "controles", "evaluation": "controles",
                  "eig": "controles"}
#: Statuses from which a task may be transmitted.
TRANSMITTABLE = {StatutTache.NON_COMMENCE, StatutTache.EN_COURS, StatutTache.A_CORRIGER}
#: Statuses in which an agent reviews the sections.
REVIEWABLE = {StatutTache.TRANSMIS, StatutTache.A_CORRIGER, StatutTache.VALIDE}
#: The right each task action needs (``app.roles``): an opérateur hands its structure over, an
#: agent reviews it.
TRANSMISSION, REVIEW = "transmission", "campagne"
#: Not transmitted yet: who the reminders are for.
PENDING = (StatutTache.NON_COMMENCE, StatutTache.EN_COURS, StatutTache.A_CORRIGER)


class CampagneError(ValueError):
    """Every reason a campaign action is refused, in French."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = messages


def parse_years(text: str) -> list[int]:
    """Years typed as "2021, 2022" or "2020-2024"; raises ``CampagneError``."""
    years: set[int] = set()
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        bounds = [b.strip() for b in part.split("-")]
        if not all(b.isdigit() and len(b) == 4 for b in bounds) or len(bounds) > 2:
            raise CampagneError([_("Année invalide : %(v)s (attendu : 2023 ou 2020-2024).", v=part[:20])])
        low, high = int(bounds[0]), int(bounds[-1])
        if not (2000 <= low <= high <= 2100):
            raise CampagneError([_("Années hors limites : %(v)s.", v=part)])
        years.update(range(low, high + 1))
    return sorted(years)


def _open_errors(nom: str, wanted: int, unknown: bool, years: list[int], sheets: list[str],
                 echeance: Optional[dt.date]) -> list[str]:
    errors = []
    if not nom.strip():
        errors.append(_("Donnez un nom à la campagne."))
    if not wanted:
        errors.append(_("Choisissez au moins une région ou un département."))
    elif unknown:
        errors.append(_("Un des territoires choisis est inconnu."))
    if not years:
        errors.append(_("Indiquez au moins une année."))
    elif len(years) > MAX_YEARS:
        errors.append(_("Au plus %(n)s années par campagne.", n=MAX_YEARS))
    unknown = [s for s in sheets if s not in CAMPAIGN_SHEETS]
    if not sheets or unknown:
        errors.append(_("Choisissez les feuilles à collecter parmi : %(l)s.", l=", ".join(CAMPAIGN_SHEETS)))
    if echeance is not None and echeance < dt.date.today():
        errors.append(_("L'échéance ne peut pas être dans le passé."))
    return errors


def open_campagne(session: Session, scope: Scope, nom: str, departement_ids: Iterable[int],
                  years: list[int], sheets: list[str], echeance: Optional[dt.date],
                  username: Optional[str]) -> Campagne:
    """Open a campaign on départements of ``scope``: one task per structure there.

    The gate refuses a role that may not open campaigns (``WriteRefused``) and any
    département outside the territory; every other mistake is a ``CampagneError``.
    """
    wanted = sorted(set(departement_ids))
    refused = Gate(scope, session).check(Campagne, None, related={Departement: wanted}, rules=False)
    if refused and refused[0].status == 403:
        raise WriteRefused(refused)
    deps = list(session.scalars(select(Departement).where(Departement.id.in_(wanted))))
    unknown = not refused and len(deps) != len(wanted)  # refused: the gate said why already
    errors = [e.message for e in refused]
    errors += _open_errors(nom, len(wanted), unknown, years, sheets, echeance)
    structures = list(session.scalars(select(Structure.id).where(
        Structure.departement_id.in_([d.id for d in deps])))) if deps else []
    if not errors and not structures:
        errors.append(_("Aucune structure dans ce territoire : rien à collecter."))
    if errors:
        raise CampagneError(errors)
    campagne = Campagne(nom=nom.strip()[:200], annees=",".join(map(str, years)),
                        feuilles="|".join(s for s in CAMPAIGN_SHEETS if s in sheets),
                        echeance=echeance, ouverte_par=username, departements=deps)
    campagne.taches = [Tache(structure_id=sid) for sid in structures]
    session.add(campagne)
    session.commit()
    return campagne


def close_refusals(session: Session, scope: Scope, campagne: Campagne) -> list[RuleError]:
    """Why ``scope`` may not close ``campagne`` (empty: it may): the gate lets only a user whose
    territory holds all its départements change a campaign."""
    return Gate(scope, session).check(Campagne, campagne, {"statut": StatutCampagne.CLOTUREE},
                                      rules=False)


def close_campagne(session: Session, scope: Scope, campagne: Campagne) -> None:
    """Close a campaign: its tasks keep their status, opérateurs may no longer transmit."""
    refused = close_refusals(session, scope, campagne)
    if refused:
        raise WriteRefused(refused)
    if campagne.statut is StatutCampagne.CLOTUREE:
        raise CampagneError([_("Cette campagne est déjà clôturée.")])
    campagne.statut = StatutCampagne.CLOTUREE
    campagne.cloturee_le = utcnow()
    session.commit()


def _comment(tache: Tache, auteur: str, action: str, texte: str, username: Optional[str],
             section: Optional[str] = None) -> None:
    tache.commentaires.append(TacheCommentaire(section=section, auteur=auteur, action=action,
                                               texte=(texte or "").strip()[:5000], username=username))


def task_refusals(session: Session, scope: Scope, tache: Tache, area: str,
                  values: Optional[dict] = None) -> list[RuleError]:
    """Why ``scope`` may not act on ``tache`` — change it and comment on it — with the right
    ``area`` (``TRANSMISSION``: the opérateur's hand-over; ``REVIEW``: an agent's verdict)."""
    gate = Gate(scope, session)
    return gate.check(Tache, tache, values, rules=False, area=area) or gate.check(
        TacheCommentaire, None, {"tache_id": tache.id}, rules=False, area=area)


def _require_task(session: Session, scope: Scope, tache: Tache, area: str, values: dict) -> None:
    refused = task_refusals(session, scope, tache, area, values)
    if refused:
        raise WriteRefused(refused)


def transmit(session: Session, scope: Scope, tache: Tache, username: Optional[str],
             message: str = "") -> None:
    """The opérateur hands the structure's data to the agents."""
    _require_task(session, scope, tache, TRANSMISSION, {"statut": StatutTache.TRANSMIS})
    if tache.campagne.statut is not StatutCampagne.OUVERTE:
        raise CampagneError([_("La campagne est clôturée : plus de transmission possible.")])
    if tache.statut not in TRANSMITTABLE:
        raise CampagneError([_("Cette structure ne peut pas être transmise (statut : %(s)s).",
                               s=tache.statut.label)])
    for name in SECTIONS:
        if tache.section(name) is StatutSection.A_CORRIGER:
            setattr(tache, name, StatutSection.A_VERIFIER)
    tache.statut = StatutTache.TRANSMIS
    tache.transmis_le = utcnow()
    _comment(tache, "operateur", "transmis", message, username)
    session.commit()


def review(session: Session, scope: Scope, tache: Tache, section: str, verdict: str, comment: str,
           username: Optional[str]) -> None:
    """An agent's verdict on one section: "valide", or "a_corriger" with a comment."""
    _require_task(session, scope, tache, REVIEW, {section: verdict} if section in SECTIONS else {})
    errors = []
    if section not in SECTIONS:
        errors.append(_("Section inconnue : %(s)s.", s=section[:30]))
    if verdict not in (StatutSection.VALIDE.value, StatutSection.A_CORRIGER.value):
        errors.append(_("Décision inconnue."))
    if verdict == StatutSection.A_CORRIGER.value and not (comment or "").strip():
        errors.append(_("Expliquez ce qu'il faut corriger : le commentaire est obligatoire."))
    if tache.statut not in REVIEWABLE:
        errors.append(_("La structure n'a pas encore été transmise par l'opérateur."))
    if tache.campagne.statut is not StatutCampagne.OUVERTE:
        errors.append(_("La campagne est clôturée."))
    if errors:
        raise CampagneError(errors)
    setattr(tache, section, StatutSection(verdict))
    _comment(tache, "agent", verdict, comment, username, section)
    _settle(tache)
    session.commit()


def _settle(tache: Tache) -> None:
    """The task's status from its sections' verdicts."""
    verdicts = [tache.section(name) for name in SECTIONS]
    if StatutSection.A_CORRIGER in verdicts:
        tache.statut = StatutTache.A_CORRIGER
    elif all(v is StatutSection.VALIDE for v in verdicts):
        if tache.statut is not StatutTache.VALIDE:
            tache.valide_le = utcnow()
        tache.statut = StatutTache.VALIDE
    else:
        tache.statut = StatutTache.TRANSMIS


def task_structure_ids(session: Session, campagne: Campagne, scope: Scope) -> list[int]:
    """The structures of the campaign the user may see (an opérateur: only its own)."""
    return list(session.scalars(select(Tache.structure_id).where(
        Tache.campagne_id == campagne.id, condition_for(Tache, scope)).order_by(Tache.structure_id)))


def sheets_of(campagne: Campagne) -> list:
    return [BY_NAME[name] for name in campagne.sheet_names if name in BY_NAME]


# --- an opérateur's edits put the task back "en cours" ------------------------------------------
def _structure_of(obj: Any) -> Optional[int]:
    if getattr(obj, "__tablename__", None) == "structure":
        return obj.id
    sid = getattr(obj, "structure_id", None)
    parent = obj.__dict__.get("structure") or obj.__dict__.get("adresse")
    if sid is None and parent is not None:
        sid = parent.id if getattr(parent, "__tablename__", "") == "structure" else parent.structure_id
    return sid


def _touched(session: Session) -> dict[int, set[str]]:
    touched: dict[int, set[str]] = {}
    for obj in [*session.new, *session.deleted, *session.dirty]:
        section = TABLE_SECTIONS.get(getattr(obj, "__tablename__", None))
        if section is None or (obj in session.dirty and not session.is_modified(obj)):
            continue
        sid = _structure_of(obj)
        if sid is not None:
            touched.setdefault(sid, set()).add(section)
    return touched


def _before_flush(session: Session, _context, _instances) -> None:
    scope = current_scope()  # nobody outside a request: the CLI and the jobs write as the State
    if scope.is_operateur:
        reopen_tasks(session, _touched(session), scope)


def reopen_tasks(session: Session, touched: dict[int, set[str]], scope: Optional[Scope] = None) -> None:
    """An opérateur's edits (structure → sections touched) put its open tasks back « en cours »
    and a validated section back « à vérifier » (bulk writes, which no flush sees, call it).
    ``scope`` is the writer's, by default the request's user (nobody outside a request)."""
    if not touched or not (scope or current_scope()).is_operateur:
        return
    with session.no_autoflush:
        tasks = session.scalars(select(Tache).join(Campagne).where(
            Tache.structure_id.in_(sorted(touched)), Campagne.statut == StatutCampagne.OUVERTE))
        for tache in tasks:
            if tache.statut in (StatutTache.NON_COMMENCE, StatutTache.TRANSMIS, StatutTache.VALIDE):
                tache.statut = StatutTache.EN_COURS
            for name in touched[tache.structure_id]:
                if tache.section(name) is StatutSection.VALIDE:
                    setattr(tache, name, StatutSection.A_VERIFIER)


event.listen(Session, "before_flush", _before_flush)
