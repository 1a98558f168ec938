"""Grid rows as JSON (server-side paging, filters and sort over the user's scope) and the
export of the grid's current view to Excel."""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import IO, Any, Callable, Iterable, Optional

import orjson
from sqlalchemy import String, cast, false, func, or_, select

from app.extensions import db
from app.scope import Scope
from app.sheets import Sheet
from app.sheets.kinds import (Boolean, CellError, Choice, Coordinate, Date, Integer, Month, Number,
                              Year, parse_number)
from exports.writer import WorkbookWriter

from .grid_specs import MAX_MONTHS, GridColumn, GridSpec, Period

DEFAULT_SIZE, MAX_SIZE = 100, 1000
MAX_VALUES = 200          #: distinct values a value filter lists (the most frequent first)
_NOTHING = object()
_INDEXED = re.compile(r"^(filter|sort)\[(\d+)\]\[(\w+)\]$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def _month(text: Optional[str]) -> Optional[dt.date]:
    match = _MONTH.match((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1900 <= int(match.group(1)) <= 2100:
        return None
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def parse_period(spec: GridSpec, args: Any) -> Period:
    """The period asked for (``annee`` or ``debut``/``fin`` as ``aaaa-mm``), else a default."""
    today = dt.date.today()
    if spec.period_kind == "year":
        text = str(args.get("annee") or "")
        year = int(text) if text.isdigit() and 1900 <= int(text) <= 2100 else today.year
        return Period(year=year)
    if spec.period_kind == "month":
        last = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        start = _month(args.get("debut")) or last
        end = _month(args.get("fin")) or start
        start, end = min(start, end), max(start, end)
        return Period(start=start, end=min(end, Period(start=start, end=end).months()[-1]))
    return Period()


def _indexed(args: Any, name: str) -> list[dict]:
    found: dict[int, dict] = {}
    for key in args:
        match = _INDEXED.match(key)
        if match and match.group(1) == name:
            found.setdefault(int(match.group(2)), {})[match.group(3)] = args.get(key)
    return [found[i] for i in sorted(found)]


def filter_condition(column: GridColumn, expr: Any, text: str) -> Any:
    """SQL condition for a column filter typed by the agent (numbers and choices exact)."""
    kind = column.kind
    if isinstance(kind, (Integer, Number, Year, Coordinate)):
        try:
            return expr == parse_number(text)
        except CellError:
            return false()
    if isinstance(kind, (Choice, Boolean, Date, Month)):
        try:
            return expr == kind.clean(text)
        except CellError:
            if isinstance(kind, (Choice, Boolean)):
                return false()
    return func.lower(cast(expr, String)).contains(text.lower(), autoescape=True)


def value_filters(args: Any) -> dict[str, list]:
    """The Excel-like value filters of a request: ``valeurs`` = JSON ``{field: [shown values]}``
    (unreadable or malformed: no filter)."""
    try:
        found = json.loads(str(args.get("valeurs") or "{}"))
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(k): [("" if v is None else str(v)) for v in vs][:MAX_VALUES]
            for k, vs in found.items() if isinstance(vs, list)}


def _stored(column: GridColumn, shown: str) -> Any:
    """The stored value a shown value stands for (a label, a French number, a date), or
    ``_NOTHING`` when it can stand for none."""
    kind = column.kind
    try:
        if isinstance(kind, (Integer, Year)):
            return int(parse_number(shown))
        if isinstance(kind, (Number, Coordinate)):
            return parse_number(shown)
        if isinstance(kind, (Choice, Boolean, Date, Month)):
            return kind.clean(shown)
    except (CellError, ValueError, ArithmeticError):
        return _NOTHING
    return shown


def values_condition(column: GridColumn, expr: Any, shown: list[str]) -> Any:
    """SQL condition of a value filter: the column holds one of the ticked values ("" = blank)."""
    wanted = [v for v in (_stored(column, s) for s in shown if s != "") if v is not _NOTHING]
    parts = [expr.in_(wanted)] if wanted else []
    if "" in shown:
        parts.append(expr.is_(None))
        if not isinstance(column.kind, (Integer, Number, Year, Coordinate, Date, Month, Boolean)):
            parts.append(cast(expr, String) == "")
    return or_(*parts) if parts else false()


def search_condition(columns: dict[str, GridColumn], exprs: dict[str, Any], text: str) -> Any:
    """The global search box: any shown column contains the text (case-insensitive)."""
    needle = text.lower()
    parts = [func.lower(cast(exprs[f], String)).contains(needle, autoescape=True)
             for f in columns if exprs.get(f) is not None and not f.endswith("__n1")]
    return or_(*parts) if parts else false()


def filtered(spec: GridSpec, scope: Scope, period: Period, args: Any, skip_values: str = ""):
    """The grid's statement with the agent's filters, search, value filters (but the one of
    ``skip_values``) and sort applied, and its columns."""
    stmt, exprs, _ids = spec.query(scope, period)
    columns = {c.field: c for c in spec.grid_columns()}
    for flt in _indexed(args, "filter"):
        name, text = flt.get("field"), str(flt.get("value") or "").strip()
        if name in columns and exprs.get(name) is not None and text:
            stmt = stmt.where(filter_condition(columns[name], exprs[name], text))
    text = str(args.get("q") or "").strip()[:200]
    if text:
        stmt = stmt.where(search_condition(columns, exprs, text))
    for name, shown in value_filters(args).items():
        if name in columns and exprs.get(name) is not None and name != skip_values:
            stmt = stmt.where(values_condition(columns[name], exprs[name], shown))
    order = []
    for srt in _indexed(args, "sort"):
        name = srt.get("field")
        if name in columns and exprs.get(name) is not None:
            expr = exprs[name]
            order.append(expr.desc() if srt.get("dir") == "desc" else expr.asc())
    order += [exprs["code_dna"]] + [exprs[f] for f in ("mois", "id") if exprs.get(f) is not None]
    return stmt.order_by(*order), list(columns.values())


def _memo(render: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``render`` computed once per distinct value (labels translated, dates formatted once)."""
    seen: dict = {}

    def show(value: Any) -> Any:
        if value not in seen:
            seen[value] = render(value)
        return seen[value]

    return show


def _displayer(column: GridColumn) -> Callable[[Any], Any]:
    """How a stored value is shown in a cell: dates jj/mm/aaaa, months mm/aaaa, labels, floats."""
    if isinstance(column.kind, Number):
        return float
    return _converter(column) or (lambda v: v)


def _converter(column: GridColumn) -> Optional[Callable[[Any], Any]]:
    """The ``_displayer`` of a column whose value, as the grid's query returns it, is not
    shown as it is (``None`` for texts, integers, and money and ratios: the query casts
    those to floats)."""
    kind = column.kind
    if isinstance(kind, Month):
        return _memo(lambda v: f"{v.month:02d}/{v.year:04d}")
    if isinstance(kind, Date):
        return _memo(lambda v: f"{v.day:02d}/{v.month:02d}/{v.year:04d}")
    if isinstance(kind, (Choice, Boolean)):
        return _memo(kind.render)
    if isinstance(kind, Coordinate):
        return float
    return None


def _keyer(names: list[str]) -> Callable[[Any], str]:
    """The identity of a grid row, sent back by a save: the address, the structure, the
    structure and month (``sid|aaaa-mm``) or the structure of the Structures grid."""
    pos = {name: i for i, name in enumerate(names)}
    if "_pid" in pos:
        return lambda row: str(row[pos["_pid"]])
    if "_sid" in pos and "mois" in pos:
        sid, mois, month = pos["_sid"], pos["mois"], _memo(lambda v: f"{v.year:04d}-{v.month:02d}")
        return lambda row: f"{row[sid]}|{month(row[mois])}"
    if "_sid" in pos:
        return lambda row: str(row[pos["_sid"]])
    return lambda row: str(row[pos["_id"]])


def grid_page(spec: GridSpec, scope: Scope, period: Period, args: Any) -> dict:
    """One page of rows, compact: ``fields`` once, then one array per row (the grid's script
    turns them into Tabulator's rows), with each row's key and loaded versions.

    One query: the rows carry the count of every row as an uncorrelated sub-select, computed
    once; only a page past the end (rows gone since) asks for the count, then the last page."""
    stmt, columns = filtered(spec, scope, period, args)
    size = _int(args.get("size"), DEFAULT_SIZE, 1, MAX_SIZE)
    page = _int(args.get("page"), 1, 1, 10 ** 6)
    filtering = _indexed(args, "filter") or args.get("q") or args.get("valeurs")
    count = (select(func.count()).select_from(stmt.order_by(None).subquery()) if filtering
             else spec.count(scope, period)).correlate(None)
    counted = stmt.add_columns(count.scalar_subquery().label("_total"))
    conn = db.session.connection()
    result = conn.execute(counted.limit(size).offset((page - 1) * size))
    names, found = list(result.keys()), result.all()
    total = found[0][-1] if found else conn.execute(count).scalar()
    last = max(1, math.ceil(total / size))
    if not found and page > last:
        page = last
        found = conn.execute(counted.limit(size).offset((page - 1) * size)).all()
    return {"last_page": last, "last_row": total, "page": page,
            "fields": [c.field for c in columns] + ["_k", "_v", "_pv"],
            "rows": _rows(columns, names, found)}


def _rows(columns: list[GridColumn], names: list[str], result: Iterable) -> list[list]:
    """Each row as the grid shows it: its cells (converted only where a column needs it),
    its key, its version and its address's version."""
    n, key = len(columns), _keyer(names)
    convert = [(i, show) for i, show in enumerate(_converter(c) for c in columns) if show is not None]
    version = names.index("_v")
    parent = names.index("_pv") if "_pv" in names else None
    rows = []
    for row in result:
        out = list(row[:n])
        for i, show in convert:
            if out[i] is not None:
                out[i] = show(out[i])
        out += (key(row), row[version], row[parent] if parent is not None else None)
        rows.append(out)
    return rows


def page_json(page: dict) -> bytes:
    """A page as compact JSON, safe inside a ``<script>`` element of the HTML too (orjson:
    a 1,000-row page in a few milliseconds, several times faster than ``json``)."""
    return orjson.dumps(page).replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def distinct_values(spec: GridSpec, scope: Scope, period: Period, args: Any, field: str) -> Optional[dict]:
    """The distinct values of one column over the rows the other filters leave (in the
    user's scope), as shown in the grid, with their counts, most frequent first; ``None``
    for a field the grid does not show."""
    columns = {c.field: c for c in spec.grid_columns()}
    if field not in columns:
        return None
    stmt, _columns = filtered(spec, scope, period, args, skip_values=field)
    sub = stmt.order_by(None).subquery()
    col = sub.c[field]
    count = func.count().label("n")
    rows = db.session.execute(select(col, count).group_by(col).order_by(count.desc(), col)
                              .limit(MAX_VALUES + 1)).all()
    show = _displayer(columns[field])
    values = [{"value": show(v) if v is not None else None, "count": n} for v, n in rows[:MAX_VALUES]]
    return {"field": field, "values": values, "more": len(rows) > MAX_VALUES}


def _int(text: Any, default: int, low: int, high: int) -> int:
    value = int(text) if str(text or "").isdigit() else default
    return max(low, min(high, value))


def export_grid(spec: GridSpec, scope: Scope, period: Period, args: Any, hidden: Iterable[str],
                target: IO[bytes], user: Optional[str]) -> int:
    """Write the rows of the current view (every page, filters, sort, shown columns) to .xlsx."""
    stmt, columns = filtered(spec, scope, period, args)
    hidden = set(hidden)
    shown = [i for i, c in enumerate(columns) if c.field not in hidden or c.field == "code_dna"]
    view = Sheet(spec.title[:31], spec.sheet.model, [columns[i] for i in shown], spec.sheet.key,
                 spec.sheet.area, lambda q: q, ())
    rows = ([row[i] for i in shown] for row in db.session.execute(stmt))
    writer = WorkbookWriter(target)
    count = writer.add_sheet(view, rows)
    filters = {f["field"]: f.get("value") for f in _indexed(args, "filter") if f.get("field")}
    filters.update({f: ", ".join(v) for f, v in value_filters(args).items()})
    if args.get("q"):
        filters["recherche"] = str(args.get("q"))[:200]
    writer.add_meta(user, {"grille": spec.title, **period.as_dict(), **filters},
                    [f"{s.get('field')} {s.get('dir')}" for s in _indexed(args, "sort")])
    writer.close()
    return count


__all__ = ["MAX_MONTHS", "distinct_values", "export_grid", "grid_page", "page_json", "parse_period"]
