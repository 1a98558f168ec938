"""The rows an export writes: the canonical sheet's query, limited to the user's scope."""
from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from sqlalchemy import or_, select

from app.scope import Scope, condition_for
from app.sheets import Sheet
from models import Departement, Region, Structure

CHUNK = 5000


def scope_condition(sheet: Sheet, scope: Scope):
    return condition_for(sheet.model if sheet.name != "Adresses" else _adresse(), scope)


def _adresse():
    from models import Adresse

    return Adresse


def territory_condition(sheet: Sheet, departements: Sequence[str], regions: Sequence[str]):
    """Extra filter of the CLI's ``--departement`` and ``--region`` options."""
    if not departements and not regions:
        return None
    deps = select(Departement.id).join(Region).where(
        or_(Departement.code.in_(list(departements)), Region.code.in_(list(regions))))
    structures = select(Structure.id).where(Structure.departement_id.in_(deps))
    if sheet.name == "Structures":
        return Structure.id.in_(structures)
    if sheet.name in ("Opérateurs", "Conventions"):
        from app.scope import Scope as _S  # noqa: F401
        from models import Convention, ConventionStructure, Operateur

        if sheet.name == "Opérateurs":
            return Operateur.id.in_(select(Structure.operateur_id).where(Structure.id.in_(structures)))
        return Convention.id.in_(select(ConventionStructure.convention_id)
                                 .where(ConventionStructure.structure_id.in_(structures)))
    return Structure.id.in_(structures)


def sheet_rows(session: Any, sheet: Sheet, scope: Scope, where: Optional[Any] = None,
               ids: Optional[list[int]] = None) -> Iterator[tuple]:
    """Rows of values in column order; ``ids`` (primary keys) fixes which rows and their order."""
    stmt = sheet.select().where(scope_condition(sheet, scope))
    if where is not None:
        stmt = stmt.where(where)
    width = sum(1 for c in sheet.columns if c.expr is not None)
    extra_at = [i for i, c in enumerate(sheet.columns) if c.expr is None]
    if ids is None:
        batches = _stream(session, stmt)
    else:
        batches = _by_ids(session, stmt, sheet, ids)
    for batch in batches:
        extra = sheet.extra(session, [r[width] for r in batch]) if sheet.extra else {}
        for row in batch:
            values = list(row[:width])
            for i in extra_at:
                values.insert(i, extra.get(row[width], {}).get(sheet.columns[i].field))
            yield values


def _stream(session, stmt) -> Iterator[list]:
    result = session.execute(stmt.execution_options(yield_per=CHUNK))
    for part in result.partitions(CHUNK):
        yield part


def _by_ids(session, stmt, sheet: Sheet, ids: list[int]) -> Iterator[list]:
    id_col = sheet.ids[0] if sheet.name != "Adresses" else sheet.ids[2]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rows = session.execute(stmt.where(id_col.in_(chunk))).all()
        width = len(rows[0]) if rows else 0
        id_pos = width - len(sheet.ids) + list(sheet.ids).index(id_col) if rows else 0
        order = {i: n for n, i in enumerate(chunk)}
        yield sorted(rows, key=lambda r: order.get(r[id_pos], 0))
