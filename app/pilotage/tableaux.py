"""What a dashboard shows: a territory (national, région, département, opérateur) ∩ the user's scope.

Design decision (README « Tableaux de bord et périmètre »): every dashboard shows the
territory *intersected with the user's scope*. A département agent's national page shows
only their département; a territory with nothing in scope is a 404. When the scope covers
the whole territory (national users; a régional agent on their région...), the 5-year trends
come straight from ``agg_territoire``; otherwise they are summed from ``agg_structure_annee``
— both paths give the same figures (tested).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Optional

from flask import abort
from flask_babel import gettext as _
from sqlalchemy import Integer, and_, case, cast, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from models import (AggStructure, AggStructureAnnee, AggTerritoire, Departement, Operateur, Region,
                    Structure)
from models.convention import current_conventions

from app.pilotage.aggregates_rollup import ALERTS, ALL_TYPES, NATIONAL_CODE, SUM_COLS
from app.extensions import db
from app.scope import Scope, structure_ids
from app.pilotage.seuils import TYPES, quartiles

NIVEAUX = ("national", "region", "departement", "operateur")


@dataclass
class Territoire:
    """A dashboard's territory, already intersected with the user's scope."""

    niveau: str
    code: str
    label: str
    scope: Scope
    obj: Any = None
    covered: bool = False  # the scope holds the whole territory: agg_territoire is usable
    departement_id: Optional[int] = None
    region_id: Optional[int] = None
    operateur_id: Optional[int] = None

    def condition(self, model=AggStructure) -> ColumnElement[bool]:
        """SQL condition on an aggregate model (structure_id, departement_id...) for this view."""
        conds = []
        if self.departement_id is not None:
            conds.append(model.departement_id == self.departement_id)
        if self.region_id is not None:
            deps = select(Departement.id).where(Departement.region_id == self.region_id)
            conds.append(model.departement_id.in_(deps))
        if self.operateur_id is not None:
            conds.append(model.operateur_id == self.operateur_id)
        if not self.scope.national:
            conds.append(model.structure_id.in_(structure_ids(self.scope)))
        return and_(true(), *conds)

    @property
    def limited(self) -> bool:
        """Is the user seeing only part of this territory?"""
        return not self.covered


def resolve(niveau: str, code: Optional[str], scope: Scope) -> Territoire:
    """The territory of a dashboard URL; 404 when unknown or outside the scope."""
    if niveau == "national":
        if code != NATIONAL_CODE:
            abort(404)  # one national page, not one per code typed in the address
        return Territoire("national", NATIONAL_CODE, _("France entière"), scope, covered=scope.national)
    if niveau == "region":
        region = db.session.scalar(select(Region).where(Region.code == code)) or abort(404)
        terr = Territoire("region", region.code, region.nom, scope, region, region_id=region.id)
        terr.covered = scope.national or (region.id in scope.region_ids and not scope.is_operateur)
        geo = region.id in scope.region_ids or any(
            d.id in scope.departement_ids for d in region.departements)
    elif niveau == "departement":
        dep = db.session.scalar(select(Departement).where(Departement.code == code)) or abort(404)
        terr = Territoire("departement", dep.code, f"{dep.code} – {dep.nom}", scope, dep,
                          departement_id=dep.id)
        geo = dep.id in scope.departement_ids or dep.region_id in scope.region_ids
        terr.covered = scope.national or (geo and not scope.is_operateur)
    elif niveau == "operateur":
        if not (code or "").isdigit():
            abort(404)
        op = db.session.get(Operateur, int(code)) or abort(404)
        terr = Territoire("operateur", str(op.id), op.nom, scope, op, operateur_id=op.id)
        terr.covered = scope.national or (scope.is_operateur and scope.operateur_id == op.id)
        geo = False
    else:
        abort(404)
    if not (scope.national or geo or _has_structures(terr)):
        abort(404)
    return terr


def _has_structures(terr: Territoire) -> bool:
    return db.session.scalar(select(Structure.id).where(structure_condition_in(terr)).limit(1)) \
        is not None


def _structure_filters(terr: Territoire) -> list:
    conds = []
    if terr.departement_id is not None:
        conds.append(Structure.departement_id == terr.departement_id)
    if terr.region_id is not None:
        conds.append(Structure.departement_id.in_(
            select(Departement.id).where(Departement.region_id == terr.region_id)))
    if terr.operateur_id is not None:
        conds.append(Structure.operateur_id == terr.operateur_id)
    return conds


def structure_condition_in(terr: Territoire) -> ColumnElement[bool]:
    """SQL condition on ``Structure`` for this territory ∩ scope."""
    conds = _structure_filters(terr)
    if not terr.scope.national:
        conds.append(Structure.id.in_(structure_ids(terr.scope)))
    return and_(true(), *conds)


def _int(value) -> int:
    return int(value or 0)


def current_by_type(terr: Territoire, year: int) -> dict[str, dict]:
    """Per type (and ``TOUS``): counts, places, 12-month activity, dotation, alerts, and the
    quartiles of the coût journalier of ``year``."""
    a = AggStructure
    sums = ["places", "places_adresses", "etp", "dotation_accordee", "act_autorisees", "act_occupees",
            "act_disponibles", "act_vacantes", "act_indisponibles", "act_bpi", "act_deboutes"]
    rows = db.session.execute(
        select(a.type, func.count(), *[func.sum(getattr(a, c)) for c in sums],
               *[func.sum(cast(getattr(a, name), Integer)) for name in ALERTS])
        .where(terr.condition()).group_by(a.type)).all()
    result: dict[str, dict] = {}
    for row in rows:
        entry = {"structures": row[1], **{c: row[2 + i] or 0 for i, c in enumerate(sums)},
                 **{n: _int(row[2 + len(sums) + i]) for i, n in enumerate(ALERTS)}}
        result[row[0]] = entry
    total = {k: sum(e[k] for e in result.values()) for k in
             ["structures", *sums, *ALERTS]} if result else None
    ordered = {t: result[t] for t in TYPES if t in result}
    if total:
        ordered[ALL_TYPES] = total
    spread = cout_quartiles(terr, year)
    for key, entry in ordered.items():
        entry["cout_q1"], entry["cout_median"], entry["cout_q3"] = spread.get(key, (None,) * 3)
        _add_rates(entry)
    return ordered


def cout_quartiles(terr: Territoire, year: int) -> dict[str, tuple]:
    """Type (and ``TOUS``) → quartiles of the coût journalier of ``year`` in this view."""
    if terr.covered and terr.niveau != "operateur":
        t = AggTerritoire
        rows = db.session.execute(select(t.type, t.cout_q1, t.cout_median, t.cout_q3).where(
            t.niveau == terr.niveau, t.code == terr.code, t.annee == year))
        return {type_: (q1, med, q3) for type_, q1, med, q3 in rows}
    s = AggStructureAnnee
    couts: dict[str, list] = defaultdict(list)
    for type_, cout in db.session.execute(select(s.type, s.cout_journalier).where(
            terr.condition(s), s.annee == year, s.cout_journalier.is_not(None))):
        couts[type_].append(cout)
        couts[ALL_TYPES].append(cout)
    return {key: quartiles(values) for key, values in couts.items()}


def _add_rates(entry: dict) -> None:
    def rate(num, den):
        return (num or 0) / den if den else None

    aut = entry.get("act_autorisees")
    entry["taux_occupation"] = rate(entry.get("act_occupees"), entry.get("act_disponibles"))
    entry["taux_vacance"] = rate(entry.get("act_vacantes"), aut)
    entry["taux_bpi"] = rate(entry.get("act_bpi"), aut)
    entry["taux_deboutes"] = rate(entry.get("act_deboutes"), aut)
    entry["taux_indues"] = rate((entry.get("act_bpi") or 0) + (entry.get("act_deboutes") or 0), aut)
    entry["taux_indisponibles"] = rate(entry.get("act_indisponibles"), aut)


def trends(terr: Territoire, years: list[int]) -> dict[tuple[int, str], dict]:
    """(year, type or TOUS) → sums and coût quartiles, from agg_territoire when covered."""
    if terr.covered and terr.niveau != "operateur":
        return _trends_from_territoire(terr, years)
    return trends_from_structures(terr, years)


def _trends_from_territoire(terr: Territoire, years: list[int]) -> dict:
    t = AggTerritoire
    rows = db.session.scalars(select(t).where(t.niveau == terr.niveau, t.code == terr.code,
                                              t.annee.in_(years)))
    result = {}
    for row in rows:
        entry = {c: getattr(row, c) or 0 for c in SUM_COLS}
        entry.update(structures=row.structures, cout_q1=row.cout_q1, cout_median=row.cout_median,
                     cout_q3=row.cout_q3)
        _add_rates(entry)
        result[(row.annee, row.type)] = entry
    return result


def trends_from_structures(terr: Territoire, years: list[int]) -> dict:
    """The same figures as agg_territoire, summed from the structures in scope."""
    s = AggStructureAnnee
    cond = and_(terr.condition(s), s.annee.in_(years))
    result: dict[tuple[int, str], dict] = {}
    for type_col in (s.type, None):
        group = [s.annee] + ([type_col] if type_col is not None else [])
        rows = db.session.execute(select(*group, func.count(),
                                         *[func.sum(getattr(s, c)) for c in SUM_COLS])
                                  .where(cond).group_by(*group))
        for row in rows:
            type_ = row[1] if type_col is not None else ALL_TYPES
            offset = 2 if type_col is not None else 1
            entry = {"structures": row[offset],
                     **{c: row[offset + 1 + i] or 0 for i, c in enumerate(SUM_COLS)}}
            _add_rates(entry)
            result[(row[0], type_)] = entry
    couts = defaultdict(list)
    for annee, type_, cout in db.session.execute(select(s.annee, s.type, s.cout_journalier).where(
            cond, s.cout_journalier.is_not(None))):
        couts[(annee, type_)].append(cout)
        couts[(annee, ALL_TYPES)].append(cout)
    for key, entry in result.items():
        entry["cout_q1"], entry["cout_median"], entry["cout_q3"] = quartiles(couts.get(key, ()))
    return result


def echeances(terr: Territoire, today: dt.date) -> list[tuple[int, dt.date, int]]:
    """(months, limit date, structures whose convention ends in [today, limit]) for 3, 6, 12 —
    one query over the current conventions ranked set-based (the column's correlated
    subquery, twice per structure and per count, took seconds on a national ×10 park)."""
    limits = [(months, add_months(today, months)) for months in (3, 6, 12)]
    current = current_conventions(select(Structure.id).where(structure_condition_in(terr)))
    end = current.c.date_fin
    counts = db.session.execute(
        select(*[func.coalesce(func.sum(case((end <= limit, 1), else_=0)), 0) for _m, limit in limits])
        .where(end >= today, end <= limits[-1][1])).one()
    return [(months, limit, int(count)) for (months, limit), count in zip(limits, counts)]


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (clamped to the month's last day)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise ValueError(day)
