"""The five grid pages, each driven by one canonical sheet of ``app.sheets``.

A ``GridSpec`` says which sheet a grid edits, over which period (one year with N−1 beside,
or a range of months) and how its rows are found: every structure (or address) of the user's
scope, joined to the record of the period when it exists (a missing record is created by the
first save that fills one of its cells).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field as dc_field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Mapping, Optional

from sqlalchemy import Date, Float, Select, and_, cast, func, literal, select, true, union_all
from sqlalchemy.orm import aliased

from app.labels import LABELS
from app.scope import Scope, structure_condition
from app.sheets import BY_NAME, Column, Sheet
from app.sheets.kinds import Integer, Number, Text
from models import Adresse, AdresseAnnee, Departement, Operateur, Structure

MAX_MONTHS = 24


@dataclass(frozen=True)
class GridColumn(Column):
    """A column shown by a grid: a sheet column, or a read-only companion (N−1, structure name)."""

    title: str = ""
    source: str = ""                       #: field of the sheet column a companion repeats

    @property
    def label(self) -> str:
        return self.title or str(LABELS[self.field])


@dataclass(frozen=True)
class Period:
    """The period a grid page shows: a year, or the months from ``start`` to ``end``."""

    year: Optional[int] = None
    start: Optional[dt.date] = None
    end: Optional[dt.date] = None

    def months(self) -> list[dt.date]:
        out, month = [], self.start
        while month is not None and month <= self.end and len(out) < MAX_MONTHS:
            out.append(month)
            month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return out

    def as_dict(self) -> dict:
        if self.year is not None:
            return {"annee": self.year}
        if self.start is None:
            return {}
        return {"debut": f"{self.start:%Y-%m}", "fin": f"{self.end:%Y-%m}"}


@dataclass
class GridSpec:
    """One grid page: its URL slug, its sheet, its period kind and its row query."""

    slug: str
    sheet_name: str
    title: str
    period_kind: str = ""                  #: "", "year" or "month"
    columns: list[GridColumn] = dc_field(default_factory=list)

    @property
    def sheet(self) -> Sheet:
        return BY_NAME[self.sheet_name]

    @property
    def keys(self) -> set[str]:
        """Fields that identify a row: shown, never edited."""
        sheet = self.sheet
        return set(sheet.key) | {"code_dna", "id", "mois", "annee"} if sheet.model is not Structure \
            else {"code_dna"}

    def grid_columns(self) -> list[GridColumn]:
        """The sheet's columns, the structure's name after the code, N−1 beside each number."""
        sheet, out = self.sheet, []
        for col in sheet.columns:
            if self.period_kind == "year" and col.field == sheet.year_field:
                continue
            out.append(_copy(col))
            if col.field == "code_dna" and sheet.model is not Structure:
                out.append(GridColumn("structure_nom", Text(200), None,
                                      read_only=True, title=str(LABELS["nom"])))
            if (self.period_kind == "year" and col.target == "row"
                    and isinstance(col.kind, (Integer, Number)) and col.field not in self.keys):
                out.append(GridColumn(f"{col.field}__n1", col.kind, None, read_only=True,
                                      title=f"{col.label} N−1", source=col.field))
        return out

    def query(self, scope: Scope, period: Period) -> tuple[Select, Mapping[str, Any], list[str]]:
        """The rows of this grid in ``scope``: statement, SQL expression per field, id labels."""
        stmt, exprs, ids = _unscoped(self.slug, period)
        return stmt.where(structure_condition(scope)), exprs, ids

    def count(self, scope: Scope, period: Period) -> Select:
        """How many rows this grid has in ``scope``, unfiltered: each row's records of the
        period are joined on unique keys (at most one per row), so the count skips them."""
        return _COUNTS[self.slug](period).where(structure_condition(scope))


@lru_cache(maxsize=64)
def _unscoped(slug: str, period: Period) -> tuple[Select, Mapping[str, Any], list[str]]:
    """A grid's statement over every row of the period, built once per period: building it
    (aliases, casts, labels of up to 50 columns) took longer than running it for 100 rows.
    Statements are immutable; the scope's condition is added to a copy per request."""
    stmt, exprs, ids = _QUERIES[slug](SPECS[slug], period)
    return stmt, MappingProxyType(exprs), ids


def _copy(col: Column) -> GridColumn:
    return GridColumn(col.field, col.kind, col.expr, col.aliases, col.attr, col.target,
                      col.required, col.read_only, col.validators)


def _finish(spec: GridSpec, base: Select, exprs: dict[str, Any],
            ids: dict[str, Any]) -> tuple[Select, dict[str, Any], list[str]]:
    cols = [(cast(exprs[c.field], Float) if isinstance(c.kind, Number) else exprs[c.field]).label(c.field)
            for c in spec.grid_columns()]  # money and ratios travel as floats (no Decimal per cell)
    stmt = base.add_columns(*cols, *[e.label(k) for k, e in ids.items()])
    return stmt, exprs, list(ids)


def _structures(spec: GridSpec, period: Period):
    sheet = spec.sheet
    exprs = {c.field: c.expr for c in sheet.columns}
    base = select().select_from(Structure).outerjoin(Operateur, Structure.operateur_id == Operateur.id) \
        .join(Departement, Structure.departement_id == Departement.id)
    return _finish(spec, base, exprs, {"_id": Structure.id, "_v": Structure.version})


def _by_year(spec: GridSpec, period: Period):
    sheet = spec.sheet
    cur, prev = aliased(sheet.model, name="cur"), aliased(sheet.model, name="prev")
    exprs: dict[str, Any] = {"code_dna": Structure.code_dna, "structure_nom": Structure.nom}
    for c in sheet.columns:
        if c.field not in exprs and c.field != sheet.year_field:
            exprs[c.field] = getattr(cur, c.attribute)
            exprs[f"{c.field}__n1"] = getattr(prev, c.attribute)
    base = select().select_from(Structure) \
        .outerjoin(cur, and_(cur.structure_id == Structure.id, cur.annee == period.year)) \
        .outerjoin(prev, and_(prev.structure_id == Structure.id, prev.annee == period.year - 1))
    return _finish(spec, base, exprs, {"_id": cur.id, "_v": cur.version, "_sid": Structure.id})


def _by_month(spec: GridSpec, period: Period):
    sheet = spec.sheet
    months = union_all(*[select(literal(m, Date).label("mois")) for m in period.months()]) \
        .cte("grille_mois")
    cur = aliased(sheet.model, name="cur")
    exprs: dict[str, Any] = {"code_dna": Structure.code_dna, "structure_nom": Structure.nom,
                             "mois": months.c.mois}
    for c in sheet.columns:
        exprs.setdefault(c.field, getattr(cur, c.attribute) if c.field != "code_dna" else None)
    base = select().select_from(Structure).join(months, true()) \
        .outerjoin(cur, and_(cur.structure_id == Structure.id, cur.mois == months.c.mois))
    return _finish(spec, base, exprs, {"_id": cur.id, "_v": cur.version, "_sid": Structure.id})


def _adresses(spec: GridSpec, period: Period):
    sheet = spec.sheet
    cur, prev = aliased(AdresseAnnee, name="cur"), aliased(AdresseAnnee, name="prev")
    exprs: dict[str, Any] = {"structure_nom": Structure.nom}
    for c in sheet.columns:
        if c.field == sheet.year_field:
            continue
        exprs[c.field] = c.expr if c.target == "parent" or c.field == "id" else getattr(cur, c.attribute)
        if c.target == "row" and c.field != "id":
            exprs[f"{c.field}__n1"] = getattr(prev, c.attribute)
    base = select().select_from(Adresse).join(Structure, Adresse.structure_id == Structure.id) \
        .outerjoin(cur, and_(cur.adresse_id == Adresse.id, cur.annee == period.year)) \
        .outerjoin(prev, and_(prev.adresse_id == Adresse.id, prev.annee == period.year - 1))
    ids = {"_id": cur.id, "_v": cur.version, "_pid": Adresse.id, "_pv": Adresse.version}
    return _finish(spec, base, exprs, ids)


_QUERIES = {"structures": _structures, "places": _by_year, "budgets": _by_year,
            "activite": _by_month, "adresses": _adresses}

_COUNTS = {
    "structures": lambda period: select(func.count()).select_from(Structure)
    .join(Departement, Structure.departement_id == Departement.id),
    "places": lambda period: select(func.count()).select_from(Structure),
    "budgets": lambda period: select(func.count()).select_from(Structure),
    "activite": lambda period: select(func.count() * len(period.months())).select_from(Structure),
    "adresses": lambda period: select(func.count()).select_from(Adresse)
    .join(Structure, Adresse.structure_id == Structure.id),
}

SPECS: dict[str, GridSpec] = {s.slug: s for s in (
    GridSpec("structures", "Structures", "Structures"),
    GridSpec("places", "Places", "Places", "year"),
    GridSpec("budgets", "Budgets", "Budgets", "year"),
    GridSpec("activite", "Activité", "Activité", "month"),
    GridSpec("adresses", "Adresses", "Adresses", "year"),
)}
