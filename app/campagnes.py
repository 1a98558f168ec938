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

from flask import has_request_context
from flask_babel import gettext as _
from sqlalchemy import event, select
from sqlalchemy.orm import Session

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
            raise CampagneError([_("Année invalide : %(v)s (attendu : 2023 ou 2020-2024).", v=part)])
        low, high = int(bounds[0]), int(bounds[-1])
        if not (2000 <= low <= high <= 2100):
            raise CampagneError([_("Années hors limites : %(v)s.", v=part)])
        years.update(range(low, high + 1))
    return sorted(years)


def _open_errors(nom: str, deps: list, wanted: int, years: list[int], sheets: list[str],
                 echeance: Optional[dt.date]) -> list[str]:
    errors = []
    if not nom.strip():
        errors.append(_("Donnez un nom à la campagne."))
    if not wanted:
        errors.append(_("Choisissez au moins une région ou un département."))
    elif len(deps) != wanted:
        errors.append(_("Un des territoires choisis est hors de votre périmètre."))
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
    """Open a campaign on départements of ``scope``: one task per structure there."""
    wanted = sorted(set(departement_ids))
    deps = list(session.scalars(select(Departement).where(
        Departement.id.in_(wanted), condition_for(Departement, scope))))
    errors = _open_errors(nom, deps, len(wanted), years, sheets, echeance)
    structures = list(session.scalars(select(Structure.id).where(
        Structure.departement_id.in_([d.id for d in deps]), condition_for(Structure, scope)))) \
        if deps else []
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


def close_campagne(session: Session, campagne: Campagne) -> None:
    """Close a campaign: its tasks keep their status, opérateurs may no longer transmit."""
    if campagne.statut is StatutCampagne.CLOTUREE:
        raise CampagneError([_("Cette campagne est déjà clôturée.")])
    campagne.statut = StatutCampagne.CLOTUREE
    campagne.cloturee_le = utcnow()
    session.commit()


def _comment(tache: Tache, auteur: str, action: str, texte: str, username: Optional[str],
             section: Optional[str] = None) -> None:
    tache.commentaires.append(TacheCommentaire(section=section, auteur=auteur, action=action,
                                               texte=(texte or "").strip()[:5000], username=username))


def transmit(session: Session, tache: Tache, username: Optional[str], message: str = "") -> None:
    """The opérateur hands the structure's data to the agents."""
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


def review(session: Session, tache: Tache, section: str, verdict: str, comment: str,
           username: Optional[str]) -> None:
    """An agent's verdict on one section: "valide", or "a_corriger" with a comment."""
    errors = []
    if section not in SECTIONS:
        errors.append(_("Section inconnue : %(s)s.", s=section))
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
    if has_request_context() and current_scope().is_operateur:
        reopen_tasks(session, _touched(session))


def reopen_tasks(session: Session, touched: dict[int, set[str]]) -> None:
    """An opérateur's edits (structure → sections touched) put its open tasks back « en cours »
    and a validated section back « à vérifier » (bulk writes, which no flush sees, call it)."""
    if not touched or not has_request_context() or not current_scope().is_operateur:
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
