"""The pages' answers before issue #21, kept as the oracle the new ones are compared with:
« À traiter » computed over the whole territory on every visit, the map's markers of every
structure, and the list's search scanning every structure (views/a_traiter.py, views/carte.py
and views/structure_list.py as they were)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import exists, or_, select

from app.pilotage import completude
from app.extensions import db
from app.scope import current_scope, structure_condition
from app.pilotage.tableaux import add_months
from models import (AggStructure, Adresse, Convention, ConventionStructure, Operateur,
                    Structure)
from models.enums import StatutConvention, TypeConvention


def old_search_ids(q: str) -> set[int]:
    """The list's search as it was: ILIKE on every column, the opérateur joined, an EXISTS on
    the addresses — every structure read."""
    like = f"%{q}%"
    condition = or_(
        Structure.code_dna.ilike(like), Structure.nom.ilike(like),
        Structure.commune.ilike(like), Structure.code_postal.like(like),
        Structure.code_finess.ilike(like), Operateur.nom.ilike(like),
        exists().where(Adresse.structure_id == Structure.id,
                       or_(Adresse.commune.ilike(like), Adresse.code_postal.like(like))))
    return set(db.session.scalars(select(Structure.id)
                                  .outerjoin(Operateur, Operateur.id == Structure.operateur_id)
                                  .where(condition)))


MAX_LINES = 100


@dataclass
class Section:
    """One kind of thing to handle, with its lines (structure id, code, name, detail)."""

    key: str
    title: str
    lines: list[tuple[int, str, str, str]] = field(default_factory=list)
    more_url: Optional[str] = None
    note: Optional[str] = None


def _period_lines(col, today: dt.date, limit: dt.date, scope) -> list[tuple]:
    rows = db.session.execute(select(Structure.id, Structure.code_dna, Structure.nom, col)
                              .where(structure_condition(scope), col.is_not(None), col <= limit)
                              .order_by(col, Structure.code_dna)).all()
    return [(sid, code, nom or "", _status(end, today)) for sid, code, nom, end in rows]


def _status(end: dt.date, today: dt.date) -> str:
    if end < today:
        return _("Expirée le %(d)s", d=end.strftime("%d/%m/%Y"))
    return _("< 3 mois : fin le %(d)s", d=end.strftime("%d/%m/%Y"))


def _cpom_lines(today: dt.date, limit: dt.date, scope) -> list[tuple]:
    rows = db.session.execute(
        select(Structure.id, Structure.code_dna, Structure.nom, Convention.reference, Convention.date_fin)
        .join(ConventionStructure, ConventionStructure.structure_id == Structure.id)
        .join(Convention, Convention.id == ConventionStructure.convention_id)
        .where(structure_condition(scope), Convention.type == TypeConvention.CPOM,
               Convention.statut.not_in([StatutConvention.RESILIEE, StatutConvention.BROUILLON]),
               Convention.date_fin.is_not(None))).all()
    latest: dict[int, tuple] = {}
    for row in rows:  # the structure's most recent CPOM is the one that matters
        if row[0] not in latest or row[4] > latest[row[0]][4]:
            latest[row[0]] = row
    due = sorted((r for r in latest.values() if r[4] <= limit), key=lambda r: (r[4], r[1]))
    return [(sid, code, nom or "", f"{ref} — {_status(end, today)}") for sid, code, nom, ref, end in due]


def _alert_lines(condition, detail) -> list[tuple]:
    rows = db.session.execute(select(Structure.id, Structure.code_dna, Structure.nom, AggStructure)
                              .join(AggStructure, AggStructure.structure_id == Structure.id)
                              .where(structure_condition(current_scope()), condition)
                              .order_by(Structure.code_dna)).all()
    return [(sid, code, nom or "", detail(agg)) for sid, code, nom, agg in rows]


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def _documents_section(scope) -> Section:
    section = Section("documents", _("Documents obligatoires manquants"))
    try:
        from app.documents import missing_documents
    except ImportError:
        section.note = _("La liste des documents obligatoires n'est pas encore disponible.")
        return section
    ids = db.session.scalars(select(Structure.id).where(structure_condition(scope))).all()
    by_structure: dict[int, list] = {}
    for item in missing_documents(db.session, ids):
        by_structure.setdefault(item.structure_id, []).append(item)
    names = dict(db.session.execute(select(Structure.id, Structure.nom).where(
        Structure.id.in_(list(by_structure)))).all()) if by_structure else {}
    for sid, items in sorted(by_structure.items(), key=lambda kv: kv[1][0].code_dna):
        labels = ", ".join(f"{i.label}{f' {i.annee}' if i.annee else ''}" for i in items)
        section.lines.append((sid, items[0].code_dna, names.get(sid) or "", labels))
    return section


def _completude_section(scope, today: dt.date) -> Section:
    """Structures whose fiche misses a value (FINESS, coordinates, dates, a year's places or
    budget...): created from the files agents had, to complete now."""
    fiches = completude.evaluate(db.session, structure_condition(scope),
                                 completude.shown_years(today), documents=False)
    lines = [(f.id, f.code_dna, f.nom, f.summary(documents=False))
             for f in fiches.values() if f.a_completer]
    return Section("completude", _("Fiches à compléter"), lines)


def sections(today: dt.date) -> list[Section]:
    """Every section of the page for the current user."""
    scope = current_scope()
    limit = add_months(today, 3)
    a = AggStructure

    def more(alerte):
        return url_for("DashboardView.structures", niveau="national", code="FR", alerte=alerte)

    return [
        Section("autorisations", _("Autorisations expirées ou à échéance dans 3 mois"),
                _period_lines(Structure.fin_autorisation, today, limit, scope)),
        Section("conventions", _("Conventions expirées ou à échéance dans 3 mois"),
                _period_lines(Structure.fin_convention, today, limit, scope)),
        Section("cpom", _("CPOM expirés ou à échéance dans 3 mois"), _cpom_lines(today, limit, scope)),
        Section("occupation", _("Taux d'occupation sous le seuil (12 derniers mois)"),
                _alert_lines(a.alerte_occupation.is_(True), lambda g: _pct(g.taux_occupation)),
                more("occupation")),
        Section("indues", _("Présences indues au-dessus des plafonds"),
                _alert_lines(or_(a.alerte_bpi.is_(True), a.alerte_deboutes.is_(True),
                                 a.alerte_indues.is_(True)),
                             lambda g: _("BPI %(b)s, déboutés %(d)s, total %(t)s", b=_pct(g.taux_bpi),
                                         d=_pct(g.taux_deboutes), t=_pct(g.taux_indues))),
                more("indues")),
        Section("ecart", _("Écart de plus de 10 % entre places et places des adresses"),
                _alert_lines(a.alerte_ecart.is_(True),
                             lambda g: _("%(p)s places, %(a)s aux adresses", p=g.places,
                                         a=g.places_adresses or 0)), more("ecart")),
        Section("budget", _("Budget %(y)s manquant", y=today.year - 1),
                _alert_lines(a.budget_n1_manquant.is_(True), lambda g: _("aucune dotation accordée"))),
        _completude_section(scope, today),
        _documents_section(scope),
    ]


