"""The structure list: filters, search, sort and computed columns in a bounded number of queries.

One count, one page query (places of the latest year and bâti come as correlated
subqueries, so they sort too), one query for the communes of the page's structures, and one
per filter drop-down: the number of queries does not depend on the page size.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import and_, column, exists, func, or_, select, table
from sqlalchemy.orm import contains_eager

from markupsafe import Markup, escape

from app.extensions import db
from app.scope import Scope, condition_for, structure_condition
from app.structure_exprs import bati_expr, communes_expr, places_expr
from models import Adresse, Departement, Operateur, Region, Structure
from models.enums import Public, TypeStructure

PAGE_SIZES = (20, 50, 100, 200)


SORTS = {
    "code_dna": lambda: Structure.code_dna, "nom": lambda: Structure.nom,
    "type": lambda: Structure.type, "operateur": lambda: Operateur.nom,
    "departement": lambda: Departement.code, "bati": bati_expr, "communes": communes_expr,
    "places_latest": places_expr, "fin_convention": lambda: Structure.fin_convention,
    "public": lambda: Structure.public,
}
COLUMNS = ["code_dna", "type", "operateur", "departement", "bati", "communes", "places_latest",
           "fin_convention"]


def _int(value: Any) -> Optional[int]:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _date(value: Any) -> Optional[dt.date]:
    try:
        return dt.date.fromisoformat(str(value).strip())
    except (TypeError, ValueError):
        return None


#: The search index (migration a7c4e2f9d815): one line per structure, its searched text kept
#: in sync by triggers — an FTS5 trigram table on SQLite (``rowid`` = structure id, its LIKE
#: goes through the trigram index), a table with a pg_trgm GIN index on PostgreSQL.
_FTS = table("structure_recherche", column("rowid"), column("doc"))
_TRGM = table("structure_recherche", column("structure_id"), column("doc"))


def search_condition(q: str):
    """The structures whose code DNA, name, commune, postal code, FINESS, opérateur or an
    address's commune or postal code contains ``q`` (case-insensitive), through the index."""
    like = f"%{q}%"
    if db.engine.dialect.name == "sqlite":
        return Structure.id.in_(select(_FTS.c.rowid).where(_FTS.c.doc.like(like)))
    if db.engine.dialect.name == "postgresql":
        return Structure.id.in_(select(_TRGM.c.structure_id).where(_TRGM.c.doc.ilike(like)))
    return scan_condition(q)


def scan_condition(q: str):
    """The same search without the index (every structure read): the reference the indexed
    search is tested against."""
    like = f"%{q}%"
    return or_(
        Structure.code_dna.ilike(like), Structure.nom.ilike(like),
        Structure.commune.ilike(like), Structure.code_postal.like(like),
        Structure.code_finess.ilike(like),
        Structure.operateur_id.in_(select(Operateur.id).where(Operateur.nom.ilike(like))),
        exists().where(Adresse.structure_id == Structure.id,
                       or_(Adresse.commune.ilike(like), Adresse.code_postal.like(like))))


@dataclass
class ListArgs:
    """What the user asked the list for (from the query string)."""

    q: str = ""
    types: list[str] = field(default_factory=list)
    region: Optional[int] = None
    departement: Optional[int] = None
    operateur: Optional[int] = None
    bati: str = ""
    public: str = ""
    places_min: Optional[int] = None
    places_max: Optional[int] = None
    fin_min: Optional[dt.date] = None
    fin_max: Optional[dt.date] = None
    sort: str = "code_dna"
    desc: bool = False
    page: int = 0
    psize: int = 50

    @classmethod
    def parse(cls, args) -> "ListArgs":
        types = [t for t in args.getlist("type") + args.getlist("_flt_0_type")
                 if t in TypeStructure.__members__]
        sort = args.get("sort", "code_dna")
        psize = _int(args.get("psize")) or 50
        return cls(q=(args.get("q") or "").strip()[:100], types=types,
                   region=_int(args.get("region")), departement=_int(args.get("departement")),
                   operateur=_int(args.get("operateur")),
                   bati=args.get("bati", "") if args.get("bati") in ("DIFFUS", "COLLECTIF", "MIXTE") else "",
                   public=args.get("public", "") if args.get("public") in Public.__members__ else "",
                   places_min=_int(args.get("places_min")), places_max=_int(args.get("places_max")),
                   fin_min=_date(args.get("fin_min")), fin_max=_date(args.get("fin_max")),
                   sort=sort if sort in SORTS else "code_dna", desc=args.get("dir") == "desc",
                   page=max(0, _int(args.get("page")) or 0),
                   psize=psize if psize in PAGE_SIZES else 50)

    def conditions(self) -> list:
        conds = []
        if self.q:
            conds.append(search_condition(self.q))
        if self.types:
            conds.append(Structure.type.in_([TypeStructure(t) for t in self.types]))
        if self.region:
            conds.append(Departement.region_id == self.region)
        if self.departement:
            conds.append(Structure.departement_id == self.departement)
        if self.operateur:
            conds.append(Structure.operateur_id == self.operateur)
        if self.public:
            conds.append(Structure.public == Public(self.public))
        if self.bati:
            conds.append(bati_expr() == self.bati)
        if self.places_min is not None:
            conds.append(places_expr() >= self.places_min)
        if self.places_max is not None:
            conds.append(places_expr() <= self.places_max)
        if self.fin_min:
            conds.append(Structure.fin_convention >= self.fin_min)
        if self.fin_max:
            conds.append(Structure.fin_convention <= self.fin_max)
        return conds

    def query_args(self, **override) -> dict:
        """The query string of this list, with some arguments changed (links)."""
        args = {"q": self.q, "type": self.types, "region": self.region,
                "departement": self.departement, "operateur": self.operateur, "bati": self.bati,
                "public": self.public, "places_min": self.places_min,
                "places_max": self.places_max, "fin_min": self.fin_min, "fin_max": self.fin_max,
                "sort": self.sort, "dir": "desc" if self.desc else "asc", "page": self.page,
                "psize": self.psize}
        args.update(override)
        return {k: v for k, v in args.items() if v not in (None, "", [], 0) or k == "page"}


@dataclass
class Row:
    """One line of the list: the structure and its computed columns."""

    structure: Structure
    places_latest: Optional[int]
    bati: Optional[str]
    communes: list[str]


def fetch(a: ListArgs, scope: Scope) -> tuple[int, list[Row]]:
    """(total count, rows of the requested page) inside the scope."""
    where = and_(structure_condition(scope), *a.conditions())
    base = (select(Structure).join(Departement, Departement.id == Structure.departement_id)
            .outerjoin(Operateur, Operateur.id == Structure.operateur_id))
    count = db.session.scalar(base.with_only_columns(func.count(Structure.id)).where(where))
    order = SORTS[a.sort]()
    order = order.desc() if a.desc else order.asc()
    places, bati = places_expr().label("places_latest"), bati_expr().label("bati")
    # the page's ids first: the computed columns (places, bâti) are then read for the page's
    # rows only, not for every structure matching the filters (SQLite computes a selected
    # column before sorting)
    ids = (base.with_only_columns(Structure.id).where(where)
           .order_by(order.nulls_last(), Structure.code_dna)
           .offset(a.page * a.psize).limit(a.psize).scalar_subquery())
    stmt = (base.add_columns(places, bati).where(Structure.id.in_(ids))
            .options(contains_eager(Structure.departement), contains_eager(Structure.operateur))
            .order_by(order.nulls_last(), Structure.code_dna))
    page = db.session.execute(stmt).all()
    ids = [s.id for s, _p, _b in page]
    communes: dict[int, set[str]] = {i: set() for i in ids}
    if ids:
        for sid, commune in db.session.execute(
                select(Adresse.structure_id, Adresse.commune).distinct()
                .where(Adresse.structure_id.in_(ids), Adresse.commune.is_not(None))):
            communes[sid].add(commune)
    return count, [Row(s, p, b, sorted(communes[s.id])) for s, p, b in page]


def options(pairs, selected) -> Markup:
    """``<option>`` tags for a drop-down, built at once (hundreds of opérateurs nationally)."""
    return Markup("".join(
        f'<option value="{value}"{" selected" if value == selected else ""}>{escape(label)}</option>'
        for value, label in pairs))


#: Opérateurs proposed at most by the autocomplete (the first by name).
OPERATEURS_MAX = 20


def operateur_matches(scope: Scope, q: str, limit: int = OPERATEURS_MAX) -> list[dict]:
    """The opérateurs of the territory whose name contains ``q`` (all when empty), by name:
    the autocomplete of the opérateur filter (list, map)."""
    stmt = select(Operateur.id, Operateur.nom).where(condition_for(Operateur, scope))
    q = q.strip()[:100]
    if q:
        stmt = stmt.where(Operateur.nom.ilike(f"%{q}%"))
    return [{"id": i, "nom": nom} for i, nom in
            db.session.execute(stmt.order_by(Operateur.nom, Operateur.id).limit(limit))]


def choices(scope: Scope, operateur: Optional[int] = None) -> dict[str, list]:
    """Drop-down options of the filters, limited to the user's territory; the opérateur is
    chosen by autocomplete (``operateur_matches``): only the selected one is read, when it is
    in the territory."""
    regions = db.session.execute(select(Region.id, Region.nom).where(condition_for(Region, scope))
                                 .order_by(Region.nom)).all()
    deps = db.session.execute(
        select(Departement.id, Departement.code, Departement.nom)
        .where(condition_for(Departement, scope)).order_by(Departement.code)).all()
    selected = db.session.execute(select(Operateur.id, Operateur.nom).where(
        Operateur.id == operateur, condition_for(Operateur, scope))).first() if operateur else None
    return {"regions": regions, "departements": deps, "operateur": selected,
            "departements_pairs": [(i, f"{code} - {nom}") for i, code, nom in deps],
            "types": [t.value for t in TypeStructure], "publics": Public.choices(),
            "batis": ["DIFFUS", "COLLECTIF", "MIXTE"]}
