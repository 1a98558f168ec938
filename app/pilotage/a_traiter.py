"""« À traiter » from the aggregates: which structure is in which rubrique, rebuilt with the
other aggregate tables (``app.pilotage.aggregates.rebuild``, same transaction), so the page reads, per
rubrique, one count (one grouped query) and one page of lines through an index — its cost follows what it shows,
not the size of the park. The details of the lines shown (a completeness summary, the
documents owed, an alert's rates) are computed for those lines only.

The rules are the ones the page applied to the whole territory on every visit: an
autorisation or the current convention ending within 3 months (or ended), the most recent
CPOM likewise, the alerts of ``agg_structure``, a fiche à compléter (``app.pilotage.completude``),
documents owed this year (``app.documents``).
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import (Date, String, and_, cast, delete, false, func, insert, literal, null, or_,
                        select, true)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from models import (AggATraiter, AggStructure, Convention, ConventionStructure, Departement,
                    Structure)
from models.convention import current_conventions
from models.enums import StatutConvention, TypeConvention

from app.scope import Scope, structure_condition
from app.pilotage.tableaux import add_months
from app.documents import missing_documents
from app.pilotage import completude

#: The rubriques, in the page's order (the view gives them their titles and details).
PERIODS = ("autorisations", "conventions", "cpom")
ALERTS = ("occupation", "indues", "ecart", "budget")
RUBRIQUES = (*PERIODS, *ALERTS, "completude", "documents")
#: Ids per query when a rubrique is computed in Python (SQLite's bound-parameter limit).
CHUNK = 2000


def _alert_condition(rubrique: str):
    a = AggStructure
    return {"occupation": a.alerte_occupation.is_(True),
            "indues": or_(a.alerte_bpi.is_(True), a.alerte_deboutes.is_(True),
                          a.alerte_indues.is_(True)),
            "ecart": a.alerte_ecart.is_(True),
            "budget": a.budget_n1_manquant.is_(True)}[rubrique]


COLS = ["rubrique", "structure_id", "code_dna", "departement_id", "region_id", "operateur_id",
        "echeance", "reference"]


def _from_structures(rubrique: str, echeance, *where, reference=None):
    s = Structure
    # typed NULLs: PostgreSQL reads an untyped NULL of INSERT … SELECT as text
    return (select(literal(rubrique, String(20)), s.id, s.code_dna, s.departement_id,
                   Departement.region_id, s.operateur_id,
                   echeance if echeance is not None else cast(null(), Date),
                   reference if reference is not None else cast(null(), String(100)))
            .join(Departement, Departement.id == s.departement_id).where(*where))


def _insert_ids(conn: Connection, rubrique: str, ids: list[int], extra: Optional[dict] = None) -> None:
    """Lines of ``rubrique`` for these structures (computed in Python), ``extra``: id →
    (échéance, référence)."""
    extra = extra or {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rows = conn.execute(select(Structure.id, Structure.code_dna, Structure.departement_id,
                                   Departement.region_id, Structure.operateur_id)
                            .join(Departement, Departement.id == Structure.departement_id)
                            .where(Structure.id.in_(chunk))).all()
        if rows:
            conn.execute(insert(AggATraiter), [
                {"rubrique": rubrique, "structure_id": r[0], "code_dna": r[1],
                 "departement_id": r[2], "region_id": r[3], "operateur_id": r[4],
                 "echeance": extra.get(r[0], (None, None))[0],
                 "reference": extra.get(r[0], (None, None))[1]} for r in rows])


def latest_cpoms(conn, condition, limit: dt.date) -> dict[int, tuple[dt.date, str]]:
    """Per structure, its most recent CPOM (not cancelled, not a draft) when it ends by ``limit``."""
    rows = conn.execute(
        select(ConventionStructure.structure_id, Convention.reference, Convention.date_fin)
        .join(Convention, Convention.id == ConventionStructure.convention_id)
        .join(Structure, Structure.id == ConventionStructure.structure_id)
        .where(condition, Convention.type == TypeConvention.CPOM,
               Convention.statut.not_in([StatutConvention.RESILIEE, StatutConvention.BROUILLON]),
               Convention.date_fin.is_not(None))).all()
    latest: dict[int, tuple[dt.date, str]] = {}
    for sid, ref, end in rows:
        if sid not in latest or end > latest[sid][0]:
            latest[sid] = (end, ref)
    return {sid: v for sid, v in latest.items() if v[0] <= limit}


def build(conn: Connection, today: dt.date) -> int:
    """Refill ``agg_a_traiter`` (inside the rebuild's transaction, after ``agg_structure``)."""
    conn.execute(delete(AggATraiter))
    limit = add_months(today, 3)
    s = Structure
    query = _from_structures("autorisations", s.fin_autorisation, s.fin_autorisation.is_not(None),
                             s.fin_autorisation <= limit)
    conn.execute(insert(AggATraiter).from_select(COLS, query))
    current = current_conventions()  # set-based: one pass over the links, not one per structure
    query = (_from_structures("conventions", current.c.date_fin, current.c.date_fin.is_not(None),
                              current.c.date_fin <= limit)
             .join(current, current.c.structure_id == s.id))
    conn.execute(insert(AggATraiter).from_select(COLS, query))
    cpoms = latest_cpoms(conn, true(), limit)
    _insert_ids(conn, "cpom", sorted(cpoms), cpoms)
    for rubrique in ALERTS:
        query = (_from_structures(rubrique, None, _alert_condition(rubrique))
                 .join(AggStructure, AggStructure.structure_id == s.id))
        conn.execute(insert(AggATraiter).from_select(COLS, query))
    session = Session(bind=conn)
    try:
        fiches = completude.evaluate(session, true(), completude.shown_years(today), documents=False)
        _insert_ids(conn, "completude", sorted(f.id for f in fiches.values() if f.a_completer))
        ids = sorted(fiches) or list(conn.scalars(select(s.id)))
        owing: set[int] = set()
        for start in range(0, len(ids), CHUNK):
            owing.update(i.structure_id for i in
                         missing_documents(session, ids[start:start + CHUNK], today.year))
        _insert_ids(conn, "documents", sorted(owing))
    finally:
        session.close()
    return conn.scalar(select(func.count()).select_from(AggATraiter))


def scope_condition(scope: Scope):
    """The lines of the scope's structures: the aggregate's territory columns (indexed), and
    the structure's own condition (a structure moved since the rebuild is not shown outside)."""
    a = AggATraiter
    if scope.national:
        return true()
    conds = []
    if scope.departement_ids:
        conds.append(a.departement_id.in_(sorted(scope.departement_ids)))
    if scope.region_ids:
        conds.append(a.region_id.in_(sorted(scope.region_ids)))
    if scope.operateur_id is not None and scope.is_operateur:
        conds.append(a.operateur_id == scope.operateur_id)
    return and_(or_(*conds), structure_condition(scope)) if conds else false()


def _scoped(query, scope: Scope):
    """``query`` on ``agg_a_traiter`` limited to the scope; the structure is joined only for a
    territory (its own condition), a national scope reads the aggregate alone."""
    if scope.national:
        return query
    return query.join(Structure, Structure.id == AggATraiter.structure_id).where(scope_condition(scope))


def counts(session, scope: Scope) -> dict[str, int]:
    """Lines per rubrique in the scope, in one grouped query (0 for a rubrique without lines)."""
    a = AggATraiter
    rows = session.execute(_scoped(select(a.rubrique, func.count()).select_from(a), scope)
                           .group_by(a.rubrique)).all()
    found = dict(rows)
    return {rubrique: found.get(rubrique, 0) for rubrique in RUBRIQUES}


def page(session, rubrique: str, scope: Scope, size: int, offset: int = 0) -> list[tuple]:
    """Lines ``offset`` to ``offset + size`` of the rubrique in scope, ordered by échéance
    then code DNA (the order of ``ix_agg_a_traiter_order``): (structure id, code, nom,
    échéance, référence). The names are read for these lines only."""
    a = AggATraiter
    keys = session.execute(_scoped(select(a.structure_id, a.code_dna, a.echeance, a.reference)
                                   .where(a.rubrique == rubrique), scope)
                           .order_by(a.echeance, a.code_dna)
                           .offset(offset).limit(size)).all()
    if not keys:
        return []
    names = dict(session.execute(select(Structure.id, Structure.nom)
                                 .where(Structure.id.in_([k[0] for k in keys]))).all())
    return [(sid, code, names.get(sid), end, ref) for sid, code, end, ref in keys]
