"""The rows an export writes: the canonical sheet's query, limited to the user's scope."""
from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, Sequence

from sqlalchemy import func, or_, select

from app.scope import Scope, condition_for
from app.sheets import Sheet
from models import Adresse, Convention, ConventionStructure, Departement, Operateur, Region, Structure

CHUNK = 5000


def scope_condition(sheet: Sheet, scope: Scope):
    return condition_for(sheet.model if sheet.parent is None else _adresse(), scope)


def _adresse():
    return Adresse


def territory_condition(sheet: Sheet, departements: Sequence[str], regions: Sequence[str]):
    """Extra filter of the CLI's ``--departement`` and ``--region`` options."""
    if not departements and not regions:
        return None
    deps = select(Departement.id).join(Region).where(
        or_(Departement.code.in_(list(departements)), Region.code.in_(list(regions))))
    structures = select(Structure.id).where(Structure.departement_id.in_(deps))
    if sheet.model is Structure:
        return Structure.id.in_(structures)
    if sheet.model in (Operateur, Convention):
        from app.scope import Scope as _S  # noqa: F401

        if sheet.model is Operateur:
            return Operateur.id.in_(select(Structure.operateur_id).where(Structure.id.in_(structures)))
        return Convention.id.in_(select(ConventionStructure.convention_id)
                                 .where(ConventionStructure.structure_id.in_(structures)))
    return Structure.id.in_(structures)


def sheet_query(sheet: Sheet, scope: Scope, where: Optional[Any] = None):
    stmt = sheet.select().where(scope_condition(sheet, scope))
    return stmt if where is None else stmt.where(where)


def sheet_count(session: Any, sheet: Sheet, scope: Scope, where: Optional[Any] = None) -> int:
    """How many rows ``sheet_rows`` would give (one COUNT, for progress and the sync limit)."""
    stmt = sheet_query(sheet, scope, where).order_by(None)
    return session.connection().scalar(select(func.count()).select_from(stmt.subquery())) or 0


def sheet_rows(session: Any, sheet: Sheet, scope: Scope, where: Optional[Any] = None,
               ids: Optional[list[int]] = None,
               on_batch: Optional[Callable[[int], None]] = None) -> Iterator[Sequence]:
    """Rows of values in column order; ``ids`` (primary keys) fixes which rows and their order.

    Rows come from SQLAlchemy Core (no ORM row processing), streamed in batches;
    ``on_batch(n)`` is told the size of each batch before its rows are given.
    """
    stmt = sheet_query(sheet, scope, where)
    width = sum(1 for c in sheet.columns if c.expr is not None)
    extra_at = [i for i, c in enumerate(sheet.columns) if c.expr is None]
    conn = session.connection()
    batches = _stream(conn, stmt) if ids is None else _by_ids(conn, stmt, sheet, ids)
    for batch in batches:
        if on_batch is not None:
            on_batch(len(batch))
        if not extra_at:
            for row in batch:
                yield row[:width]
            continue
        extra = sheet.extra(session, [r[width] for r in batch], scope) if sheet.extra else {}
        for row in batch:
            values = list(row[:width])
            for i in extra_at:
                values.insert(i, extra.get(row[width], {}).get(sheet.columns[i].field))
            yield values


def _stream(conn, stmt) -> Iterator[list]:
    result = conn.execute(stmt.execution_options(yield_per=CHUNK))
    for part in result.partitions(CHUNK):
        yield part


def _by_ids(conn, stmt, sheet: Sheet, ids: list[int]) -> Iterator[list]:
    id_col = sheet.ids[0] if sheet.parent is None else sheet.ids[2]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rows = conn.execute(stmt.where(id_col.in_(chunk))).all()
        width = len(rows[0]) if rows else 0
        id_pos = width - len(sheet.ids) + list(sheet.ids).index(id_col) if rows else 0
        order = {i: n for n, i in enumerate(chunk)}
        yield sorted(rows, key=lambda r: order.get(r[id_pos], 0))
