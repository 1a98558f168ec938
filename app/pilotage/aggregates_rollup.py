"""Roll-ups of the structure aggregates: per opérateur and per territory × year × type.

Sums are grouped in SQL; the quartiles of the coût journalier (not a sum) are computed in
Python from the per-structure rows of each group, then written with one executemany.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from sqlalchemy import Float, Integer, and_, bindparam, case, cast, func, insert, literal, or_
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from models import AggOperateur, AggStructure, AggStructureAnnee, AggTerritoire, Departement, Region

from app.pilotage.seuils import quartiles

SUM_COLS = ("places", "places_adresses", "etp", "dotation_accordee", "act_mois", "act_autorisees",
            "act_occupees", "act_disponibles", "act_vacantes", "act_indisponibles", "act_bpi",
            "act_deboutes")
ALERTS = ("alerte_ecart", "alerte_occupation", "alerte_bpi", "alerte_deboutes", "alerte_indues",
          "alerte_vacantes", "alerte_indisponibles", "alerte_cout", "alerte_encadrement")
NATIONAL_CODE = "FR"
ALL_TYPES = "TOUS"


def _fdiv(num, den):
    return cast(num, Float) / func.nullif(cast(den, Float), 0)


def any_alert(model=AggStructure):
    """SQL: does the structure raise at least one alert?"""
    return or_(*[getattr(model, name) for name in ALERTS])


OPERATEUR_COLS = ["operateur_id", "structures", "places", "places_adresses", "etp",
                  "dotation_accordee", "cout_journalier", "taux_encadrement", "taux_occupation",
                  "taux_indues", "structures_en_alerte"]


def operateur_select(where=None):
    """Per opérateur: counts, sums and weighted ratios of its structures' aggregates."""
    a = AggStructure
    with_cout = a.cout_journalier.is_not(None)
    with_taux = and_(a.taux_encadrement.is_not(None), a.etp.is_not(None))
    # Σ dotation / Σ (places × days) = Σ dotation / Σ (dotation / coût) over structures with a coût.
    cout = _fdiv(func.sum(case((with_cout, a.dotation_accordee))),
                 func.sum(case((with_cout, a.dotation_accordee / a.cout_journalier))))
    taux = _fdiv(func.sum(case((with_taux, a.taux_encadrement * a.etp))),
                 func.sum(case((with_taux, a.etp))))
    query = (select(a.operateur_id, func.count(), func.sum(a.places), func.sum(a.places_adresses),
                    func.sum(a.etp), func.sum(a.dotation_accordee), cout, taux,
                    _fdiv(func.sum(a.act_occupees), func.sum(a.act_disponibles)),
                    _fdiv(func.sum(func.coalesce(a.act_bpi, 0) + func.coalesce(a.act_deboutes, 0)),
                          func.sum(a.act_autorisees)),
                    func.sum(case((any_alert(), 1), else_=0)))
             .where(a.operateur_id.is_not(None)).group_by(a.operateur_id))
    return query.where(where) if where is not None else query


def count_rows(conn: Connection, model) -> int:
    """Rows of a table (a driver's rowcount after INSERT … SELECT is not always reliable)."""
    return conn.scalar(select(func.count()).select_from(model)) or 0


def build_operateurs(conn: Connection) -> int:
    """One row per opérateur, from its structures' current aggregates (weighted ratios)."""
    conn.execute(insert(AggOperateur).from_select(OPERATEUR_COLS, operateur_select()))
    return count_rows(conn, AggOperateur)


def _levels():
    """(niveau, code expression) of the three territory levels."""
    return (("departement", Departement.code), ("region", Region.code),
            ("national", literal(NATIONAL_CODE)))


def build_territoires(conn: Connection) -> int:
    """Rows per territory × year × type (and ``TOUS``), sums in SQL, then the quartiles."""
    s = AggStructureAnnee
    for niveau, code in _levels():
        for by_type in (True, False):
            type_col = s.type if by_type else literal(ALL_TYPES)
            group = [code, s.annee] + ([s.type] if by_type else [])
            query = (select(literal(niveau), code.label("code"), s.annee, type_col.label("type"),
                            func.count(), cast(func.count(s.cout_journalier), Integer),
                            *[func.sum(getattr(s, c)) for c in SUM_COLS])
                     .join(Departement, Departement.id == s.departement_id)
                     .join(Region, Region.id == Departement.region_id)
                     .group_by(*group))
            cols = ["niveau", "code", "annee", "type", "structures", "cout_n", *SUM_COLS]
            conn.execute(insert(AggTerritoire).from_select(cols, query))
    _write_quartiles(conn)
    return count_rows(conn, AggTerritoire)


def _group_keys(dep: str, region: str, annee: int, type_: str) -> Iterable[tuple]:
    for niveau, code in (("departement", dep), ("region", region), ("national", NATIONAL_CODE)):
        yield niveau, code, annee, type_
        yield niveau, code, annee, ALL_TYPES


def _write_quartiles(conn: Connection) -> None:
    s = AggStructureAnnee
    rows = conn.execute(select(Departement.code, Region.code, s.annee, s.type, s.cout_journalier,
                               s.taux_encadrement)
                        .join(Departement, Departement.id == s.departement_id)
                        .join(Region, Region.id == Departement.region_id)
                        .where(or_(s.cout_journalier.is_not(None), s.taux_encadrement.is_not(None))))
    couts: dict[tuple, list[float]] = defaultdict(list)
    taux: dict[tuple, list[float]] = defaultdict(list)
    for dep, region, annee, type_, cout, enc in rows:
        for key in _group_keys(dep, region, annee, type_):
            if cout is not None:
                couts[key].append(cout)
            if enc is not None:
                taux[key].append(enc)
    params = []
    for key in set(couts) | set(taux):
        q1, med, q3 = quartiles(couts.get(key, ()))
        params.append({"k_niveau": key[0], "k_code": key[1], "k_annee": key[2], "k_type": key[3],
                       "v_q1": q1, "v_med": med, "v_q3": q3,
                       "v_enc": quartiles(taux.get(key, ()))[1]})
    if not params:
        return
    t = AggTerritoire
    stmt = (update(t).where(t.niveau == bindparam("k_niveau"), t.code == bindparam("k_code"),
                            t.annee == bindparam("k_annee"), t.type == bindparam("k_type"))
            .values(cout_q1=bindparam("v_q1"), cout_median=bindparam("v_med"),
                    cout_q3=bindparam("v_q3"), encadrement_median=bindparam("v_enc")))
    conn.execute(stmt, params)
