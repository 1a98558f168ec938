"""Export use cases: the whole workbook for a scope, or one list view's rows."""
from __future__ import annotations

from dataclasses import replace
from typing import IO, Any, Callable, Optional, Sequence, Union

from app.scope import Scope
from app.sheets import BY_NAME, SHEETS, Sheet

from .queries import sheet_rows, territory_condition
from .writer import WorkbookWriter
from .list_columns import list_columns, with_list_columns

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
                progress: Progress = None, view_columns: Sequence[str] = (),
                hidden: Sequence[str] = ()) -> int:
    """Write one sheet holding exactly ``ids`` (the rows of a list view), in that order, with
    the columns of the list (``view_columns``) that the sheet lacks after its own, less the
    sheet's columns the list hides (``hidden``: its column chooser; never the key)."""
    extra = list_columns(sheet, view_columns)
    writer = WorkbookWriter(target)
    rows = sheet_rows(session, sheet, scope, ids=ids, on_batch=_batches(sheet, progress))
    rows = with_list_columns(session, sheet, rows, extra)
    drop = {i for i, c in enumerate(sheet.columns) if c.field in hidden and c.field not in sheet.key}
    if drop:
        keep = [i for i in range(len(sheet.columns) + len(extra)) if i not in drop]
        rows = ([row[i] for i in keep] for row in rows)
        sheet = replace(sheet, columns=[c for i, c in enumerate(sheet.columns) if i not in drop])
    count = writer.add_sheet(sheet, rows, extra)
    writer.add_meta(user, filters, sort, extra)
    writer.close()
    return count
