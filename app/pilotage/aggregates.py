"""Rebuild of the aggregate tables: set-based SQL, one transaction, readers never see half a build.

``rebuild(engine)`` empties and refills ``agg_structure_annee``, ``agg_structure``,
``agg_operateur`` and ``agg_territoire`` inside one transaction: until it commits, every
reader (PostgreSQL MVCC, SQLite's journal) still sees the previous build; if any step fails,
the rollback leaves the previous build in place. The same statements run on SQLite and
PostgreSQL (SQLAlchemy Core, no dialect-specific SQL).
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Optional

from sqlalchemy import Float, and_, case, cast, delete, extract, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from models import (ActiviteMensuelle, Adresse, AdresseAnnee, AggATraiter, AggCarte, AggOperateur,
                    AggStructure, AggStructureAnnee, AggTerritoire, BudgetAnnee, Departement, JobRun,
                    PlacesAnnee, Structure)
from models.enums import DONE

from app.pilotage.a_traiter import build as build_a_traiter
from app.pilotage.carte_grid import build as build_carte
from app.pilotage.aggregates_rollup import build_operateurs, build_territoires, count_rows
from app.pilotage.seuils import TYPES, seuils

log = logging.getLogger(__name__)

AGG_MODELS = (AggATraiter, AggCarte, AggTerritoire, AggOperateur, AggStructure, AggStructureAnnee)


def days_in_year(year_col):
    """366 for leap years, else 365 — as a SQL expression."""
    leap = or_(and_(year_col % 4 == 0, year_col % 100 != 0), year_col % 400 == 0)
    return case((leap, 366), else_=365)


def ratio(num, den):
    """num / den as a float, NULL when den is 0 or NULL."""
    return cast(num, Float) / func.nullif(cast(den, Float), 0)


def twelve_months(today: dt.date) -> tuple[dt.date, dt.date]:
    """[first day 12 months before the current month, first day of the current month)."""
    end = today.replace(day=1)
    start = end.replace(year=end.year - 1)
    return start, end


def _activity_sums(group_cols, where=None):
    a = ActiviteMensuelle
    q = select(*group_cols,
               func.count().label("act_mois"),
               func.sum(a.places_autorisees).label("act_autorisees"),
               func.sum(a.places_occupees).label("act_occupees"),
               func.sum(a.places_autorisees - func.coalesce(a.places_indisponibles, 0)).label(
                   "act_disponibles"),
               func.sum(a.places_vacantes).label("act_vacantes"),
               func.sum(a.places_indisponibles).label("act_indisponibles"),
               func.sum(a.presences_indues_bpi).label("act_bpi"),
               func.sum(a.presences_indues_deboutes).label("act_deboutes"))
    if where is not None:
        q = q.where(where)
    return q.group_by(*group_cols)


ACT_COLS = ("act_mois", "act_autorisees", "act_occupees", "act_disponibles", "act_vacantes",
            "act_indisponibles", "act_bpi", "act_deboutes")


def build_structure_annee(conn: Connection) -> int:
    """One row per (structure, year of places): places, addresses, budget, ratios, activity."""
    p, b, s = PlacesAnnee, BudgetAnnee, Structure
    adr = (select(Adresse.structure_id, AdresseAnnee.annee,
                  func.sum(AdresseAnnee.places_autorisees).label("places"))
           .join(Adresse, Adresse.id == AdresseAnnee.adresse_id)
           .group_by(Adresse.structure_id, AdresseAnnee.annee).subquery())
    year = extract("year", ActiviteMensuelle.mois)
    act = _activity_sums([ActiviteMensuelle.structure_id, year.label("annee")]).subquery()
    dotation = cast(b.dotation_accordee, Float)
    cols = ["structure_id", "annee", "type", "departement_id", "operateur_id", "places",
            "places_adresses", "etp", "dotation_accordee", "cout_journalier", "taux_encadrement",
            *ACT_COLS]
    query = (select(p.structure_id, p.annee, s.type, s.departement_id, s.operateur_id,
                    p.places_autorisees, adr.c.places, cast(b.etp, Float), dotation,
                    ratio(dotation, p.places_autorisees * days_in_year(p.annee)),
                    ratio(p.places_autorisees, b.etp),
                    *[act.c[c] for c in ACT_COLS])
             .join(s, s.id == p.structure_id)
             .outerjoin(b, and_(b.structure_id == p.structure_id, b.annee == p.annee))
             .outerjoin(adr, and_(adr.c.structure_id == p.structure_id, adr.c.annee == p.annee))
             .outerjoin(act, and_(act.c.structure_id == p.structure_id, act.c.annee == p.annee)))
    conn.execute(insert(AggStructureAnnee).from_select(cols, query))
    return count_rows(conn, AggStructureAnnee)


def _latest_places():
    latest = (select(PlacesAnnee.structure_id, func.max(PlacesAnnee.annee).label("annee"))
              .group_by(PlacesAnnee.structure_id).subquery())
    return (select(PlacesAnnee.structure_id, PlacesAnnee.annee, PlacesAnnee.places_autorisees)
            .join(latest, and_(latest.c.structure_id == PlacesAnnee.structure_id,
                               latest.c.annee == PlacesAnnee.annee)).subquery())


def _latest_address_places():
    latest = (select(AdresseAnnee.adresse_id, func.max(AdresseAnnee.annee).label("annee"))
              .group_by(AdresseAnnee.adresse_id).subquery())
    return (select(Adresse.structure_id, func.sum(AdresseAnnee.places_autorisees).label("places"))
            .join(Adresse, Adresse.id == AdresseAnnee.adresse_id)
            .join(latest, and_(latest.c.adresse_id == AdresseAnnee.adresse_id,
                               latest.c.annee == AdresseAnnee.annee))
            .group_by(Adresse.structure_id).subquery())


def _budget_of_year(year: int):
    """Per structure, the latest year ≤ ``year`` with a dotation accordée."""
    return (select(BudgetAnnee.structure_id, func.max(BudgetAnnee.annee).label("annee"))
            .where(BudgetAnnee.annee <= year, BudgetAnnee.dotation_accordee.is_not(None))
            .group_by(BudgetAnnee.structure_id).subquery())


def build_structures(conn: Connection, today: dt.date) -> int:
    """One row per structure: its current state (latest places, 12 months, current budget)."""
    s, sa_, b = Structure, AggStructureAnnee, BudgetAnnee
    places, adr, byear = _latest_places(), _latest_address_places(), _budget_of_year(today.year)
    start, end = twelve_months(today)
    act = _activity_sums([ActiviteMensuelle.structure_id],
                         and_(ActiviteMensuelle.mois >= start, ActiviteMensuelle.mois < end)).subquery()
    n1 = (select(b.structure_id).where(b.annee == today.year - 1, b.dotation_accordee.is_not(None)))
    cols = ["structure_id", "type", "departement_id", "region_id", "operateur_id", "annee_places",
            "places", "places_adresses", *ACT_COLS, "annee_budget", "etp", "dotation_accordee",
            "cout_journalier", "taux_encadrement", "cout_journalier_saisi",
            "taux_encadrement_saisi", "budget_n1_manquant"]
    query = (select(s.id, s.type, s.departement_id, Departement.region_id, s.operateur_id,
                    places.c.annee, places.c.places_autorisees, adr.c.places,
                    *[act.c[c] for c in ACT_COLS], byear.c.annee, sa_.etp, sa_.dotation_accordee,
                    sa_.cout_journalier, sa_.taux_encadrement, cast(b.cout_journalier, Float),
                    cast(b.taux_encadrement, Float), s.id.not_in(n1))
             .join(Departement, Departement.id == s.departement_id)
             .outerjoin(places, places.c.structure_id == s.id)
             .outerjoin(adr, adr.c.structure_id == s.id)
             .outerjoin(act, act.c.structure_id == s.id)
             .outerjoin(byear, byear.c.structure_id == s.id)
             .outerjoin(sa_, and_(sa_.structure_id == s.id, sa_.annee == byear.c.annee))
             .outerjoin(b, and_(b.structure_id == s.id, b.annee == byear.c.annee)))
    conn.execute(insert(AggStructure).from_select(cols, query))
    _derive_ratios(conn)
    return count_rows(conn, AggStructure)


def _derive_ratios(conn: Connection) -> None:
    a = AggStructure
    ecart = a.places - func.coalesce(a.places_adresses, 0)
    conn.execute(update(a).values(
        ecart=case((a.places.is_not(None), ecart)),
        ecart_ratio=ratio(func.abs(ecart), a.places),
        taux_occupation=ratio(a.act_occupees, a.act_disponibles),
        taux_vacance=ratio(a.act_vacantes, a.act_autorisees),
        taux_indisponibles=ratio(a.act_indisponibles, a.act_autorisees),
        taux_bpi=ratio(a.act_bpi, a.act_autorisees),
        taux_deboutes=ratio(a.act_deboutes, a.act_autorisees),
        taux_indues=ratio(func.coalesce(a.act_bpi, 0) + func.coalesce(a.act_deboutes, 0),
                          a.act_autorisees)))


def _above(col, limit: float):
    return func.coalesce(col > limit, False)


def _outside(col, low: float, high: float):
    return func.coalesce(or_(col < low, col > high), False)


def flag_alerts(conn: Connection, config: Optional[dict[str, Any]] = None) -> None:
    """Set the alert flags, with each type's thresholds."""
    a = AggStructure
    for type_ in TYPES:
        t = seuils(type_, config)
        conn.execute(update(a).where(a.type == type_).values(
            alerte_ecart=_above(a.ecart_ratio, t["ecart_max"]),
            alerte_occupation=func.coalesce(a.taux_occupation < t["occupation_min"], False),
            alerte_bpi=_above(a.taux_bpi, t["plafond_bpi"]),
            alerte_deboutes=_above(a.taux_deboutes, t["plafond_deboutes"]),
            alerte_indues=_above(a.taux_indues, t["plafond_indues"]),
            alerte_vacantes=_above(a.taux_vacance, t["plafond_vacantes"]),
            alerte_indisponibles=_above(a.taux_indisponibles, t["plafond_indisponibles"]),
            alerte_cout=_outside(a.cout_journalier, t["cout_min"], t["cout_max"]),
            alerte_encadrement=_outside(a.taux_encadrement, t["encadrement_min"],
                                        t["encadrement_max"])))


def rebuild(engine: Engine, today: Optional[dt.date] = None,
            config: Optional[dict[str, Any]] = None) -> dict[str, int]:
    """Rebuild every aggregate table in one transaction; returns rows written per table."""
    today = today or dt.date.today()
    with engine.begin() as conn:
        for model in AGG_MODELS:
            conn.execute(delete(model))
        counts = {"agg_structure_annee": build_structure_annee(conn),
                  "agg_structure": build_structures(conn, today)}
        flag_alerts(conn, config)
        counts["agg_operateur"] = build_operateurs(conn)
        counts["agg_territoire"] = build_territoires(conn)
        counts["agg_a_traiter"] = build_a_traiter(conn, today)
        counts["agg_carte"] = build_carte(conn)
    after_rebuild(engine)
    return counts


#: The list's search index on PostgreSQL (pg_trgm GIN, migration a7c4e2f9d815).
SEARCH_INDEX = "ix_structure_recherche_trgm"


def after_rebuild(engine: Engine) -> None:
    """PostgreSQL, after the rebuild's commit: the planner's statistics of the tables just
    refilled, and the search index's pending writes merged into the index.

    Statistics: a rebuild replaces every row of the aggregate tables; until autovacuum
    analyses them, the planner keeps the old row counts (none at all after the first build),
    and « À traiter » sorted all 9,665 lines of a rubrique to show 20 instead of reading its
    index. Search index: a GIN index keeps the entries of recent writes in a pending list that
    every search reads through, until a vacuum (or the list's 4 MB limit) merges it — after an
    import or the demo park ×10, a search read ~1,700 pending documents (the list's search
    185 ms instead of 55 ms). Every write to the search's tables (structure, adresse,
    opérateur) asks for this rebuild, so the list stays short whatever autovacuum's timing.
    A failure (no right on a table) leaves the pages correct, only slower: logged, not raised."""
    if engine.dialect.name != "postgresql":
        return
    tables = ", ".join(model.__tablename__ for model in AGG_MODELS)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"ANALYZE {tables}")
            conn.exec_driver_sql(
                "SELECT gin_clean_pending_list(i) FROM (SELECT to_regclass(%(n)s) AS i) AS s "
                "WHERE i IS NOT NULL", {"n": SEARCH_INDEX})
    except DBAPIError as exc:
        log.warning("statistics or search index not refreshed after the rebuild: %s",
                    type(exc.orig or exc).__name__)


def last_build(engine_or_conn) -> Optional[dt.datetime]:
    """End time of the last successful rebuild (None when the aggregates were never built)."""
    with engine_or_conn.connect() as conn:
        return conn.scalar(select(func.max(JobRun.ended_at))
                           .where(JobRun.job == "rebuild", JobRun.status == DONE))


