"""Export of a list view that has no canonical sheet (contacts, contrôles...): its own list
columns, with the same formatting rules (text stays text, dates as dates)."""
from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any, Callable, Optional

from sqlalchemy import select, true

from app.heures import to_paris
from app.scope import Scope, condition_for

from .writer import WorkbookWriter

CHUNK = 2000


def _value(obj: Any, column: str) -> Any:
    for part in column.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    if callable(obj):
        obj = obj()
    if isinstance(obj, enum.Enum):
        return str(getattr(obj, "label", obj.value))
    if isinstance(obj, bool):
        return "Oui" if obj else "Non"
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, (int, float, dt.date, str)):
        return obj
    return str(obj)


def _scoped(model: type, scope: Optional[Scope]):
    """The territory condition for ``model`` (none when the model has no scope rule)."""
    if scope is None:
        return true()
    try:
        return condition_for(model, scope)
    except LookupError:
        return true()


def export_list(session: Any, target: str, view: Any, ids: list[int], user: str,
                filters: Any, sort: Any, scope: Optional[Scope] = None,
                progress: Optional[Callable[[str, int], None]] = None,
                columns: Optional[list[str]] = None) -> int:
    """Write the rows ``ids`` of ``view`` (in that order) with its list columns; rows outside
    ``scope`` (when given) are left out; ``columns``: those the user chose to show."""
    model = view.datamodel.obj
    columns = list(columns or view.list_columns)
    writer = WorkbookWriter(target)
    ws = writer.book.add_worksheet(str(getattr(view, "list_title", "") or model.__name__)[:31])
    for c, column in enumerate(columns):
        ws.write_string(0, c, str(view.label_columns.get(column, column)), writer.header)
        ws.set_column(c, c, 18)
    ws.freeze_panes(1, 0)
    date_fmt = writer.fmt("dd/mm/yyyy")
    r = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        objs = {o.id: o for o in session.scalars(
            select(model).where(model.id.in_(chunk), _scoped(model, scope)))}
        if progress is not None:
            progress(ws.name, len(chunk))
        for pk in chunk:
            if pk not in objs:
                continue
            r += 1
            for c, column in enumerate(columns):
                value = _value(objs[pk], column)
                if value is None:
                    continue
                if isinstance(value, str):
                    ws.write_string(r, c, value)
                elif isinstance(value, dt.date):  # a stored time (UTC) is written in Paris time
                    ws.write_datetime(r, c, to_paris(value) if isinstance(value, dt.datetime) else value,
                                      date_fmt)
                else:
                    ws.write_number(r, c, value)
    ws.autofilter(0, 0, max(r, 1), max(len(columns) - 1, 0))
    writer.add_meta(user, filters, sort)
    writer.close()
    return r
