"""Export use cases: the whole workbook for a scope, or one list view's rows."""
from __future__ import annotations

from typing import IO, Any, Callable, Optional, Sequence, Union

from app.scope import Scope
from app.sheets import BY_NAME, SHEETS, Sheet

from .queries import sheet_rows, territory_condition
from .writer import WorkbookWriter

#: ``progress(sheet_name, rows)``: told each batch of rows about to be written.
Progress = Optional[Callable[[str, int], None]]


def _batches(sheet: Sheet, progress: Progress) -> Optional[Callable[[int], None]]:
    if progress is None:
        return None
    progress(sheet.name, 0)
    return lambda n: progress(sheet.name, n)


def export_workbook(session: Any, target: Union[str, IO[bytes]], scope: Scope,
                    sheets: Optional[Sequence[str]] = None, departements: Sequence[str] = (),
                    regions: Sequence[str] = (), user: Optional[str] = None,
                    progress: Progress = None) -> dict[str, int]:
    """Write the canonical sheets (all, or those named) for ``scope``; rows written per sheet."""
    chosen = [BY_NAME[name] for name in sheets] if sheets else SHEETS
    writer = WorkbookWriter(target)
    counts = {}
    for sheet in chosen:
        where = territory_condition(sheet, departements, regions)
        rows = sheet_rows(session, sheet, scope, where, on_batch=_batches(sheet, progress))
        counts[sheet.name] = writer.add_sheet(sheet, rows)
    filters = {k: v for k, v in (("feuilles", list(sheets or [])), ("départements", list(departements)),
                                 ("régions", list(regions))) if v}
    writer.add_meta(user, filters, "clé de chaque feuille")
    writer.close()
    return counts


def export_view(session: Any, target: Union[str, IO[bytes]], sheet: Sheet, scope: Scope,
                ids: list[int], user: Optional[str], filters: Any, sort: Any,
                progress: Progress = None) -> int:
    """Write one sheet holding exactly ``ids`` (the rows of a list view), in that order."""
    writer = WorkbookWriter(target)
    rows = sheet_rows(session, sheet, scope, ids=ids, on_batch=_batches(sheet, progress))
    count = writer.add_sheet(sheet, rows)
    writer.add_meta(user, filters, sort)
    writer.close()
    return count
