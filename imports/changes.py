"""A preview's detail in ``import_change``: written in bulk once, read a page at a time.

The page lists it by kind and sheet without loading the rest; the apply reads back the
records it writes (values as cleaned, stored ids and versions) instead of reading the file
again, and the stored versions still refuse a row changed since the preview.
"""
from __future__ import annotations

import datetime as dt
import enum
import json
from decimal import Decimal
from typing import Any, Iterator, Optional

from sqlalchemy import delete, func, select, update

from app.sheets import SHEETS
from models.imports import ImportChange, ImportChange as C

from .result import CellIssue, ImportResult, Record, json_value
from .merge import Conflict

#: the kinds of the detail, in the order of the page (a conflict's ``seq`` is its number)
KINDS = ("conflict", "error", "verify", "created", "modified", "note")
#: Record status → kind of the detail
_BY_STATUS = {"new": "created", "updated": "modified"}
#: the warnings kept in the batch's counts (the rest is counted)
WARNINGS = 500
_ENUMS = {f"{c.kind.enum_cls.__module__}.{c.kind.enum_cls.__qualname__}": c.kind.enum_cls
          for s in SHEETS for c in s.columns if hasattr(c.kind, "enum_cls")}
_SHEETS = {s.name: s for s in SHEETS}


# --- values, as cleaned, through JSON ----------------------------------------------------------
_TYPED = {Decimal: lambda v: {"$n": str(v)}, dt.datetime: lambda v: {"$t": v.isoformat()},
          dt.date: lambda v: {"$d": v.isoformat()}, tuple: lambda v: {"$l": list(v)}}


def _typed(value: Any) -> Any:
    found = _TYPED.get(value.__class__)
    if found is not None:
        return found(value)
    if isinstance(value, enum.Enum):
        return {"$e": f"{type(value).__module__}.{type(value).__qualname__}", "v": value.value}
    for cls, typed in _TYPED.items():   # a subclass
        if isinstance(value, cls):
            return typed(value)
    raise TypeError(type(value).__name__)


def _untyped(obj: dict) -> Any:
    if "$e" in obj:
        return _ENUMS[obj["$e"]](obj["v"])   # only the enumerations of the sheets' columns
    if "$n" in obj:
        return Decimal(obj["$n"])
    if "$t" in obj:
        return dt.datetime.fromisoformat(obj["$t"])
    if "$d" in obj:
        return dt.date.fromisoformat(obj["$d"])
    if "$l" in obj:
        return tuple(obj["$l"])
    return obj


_dump = json.JSONEncoder(ensure_ascii=False, default=_typed, separators=(",", ":")).encode
#: values an updated record keeps beyond its key and changes: what the apply reads of them
_KEPT = ("code_dna", "annee")


def _record_data(rec: Record) -> str:
    """What the apply needs of a record: a new one's values, an updated one's key and changes
    (the domain rules of a conflict settled for BHasile take the rest from the stored row)."""
    values, changed = rec.values, None   # a new record's changes are its values (``_new``)
    if rec.status != "new":
        keep = (*rec.sheet.key, *_KEPT, *rec.changed)
        values = {f: values[f] for f in keep if f in values}
        changed = [[f, o, n] for f, (o, n) in rec.changed.items()]
    return _dump([rec.status, list(rec.key), list(rec.ids) if rec.ids is not None else None, values,
                  changed, rec.source])


def _new(rec: Record) -> dict:
    """A new record's changes, as the checker compared it (``Checker._status``)."""
    by_field = rec.sheet.by_field
    return {f: (None, v) for f, v in rec.values.items() if v is not None and not by_field[f].read_only}


def record(row: Any) -> Record:
    """The record a ``created`` or ``modified`` line of the detail writes."""
    status, key, ids, values, changed, source = json.loads(row.data, object_hook=_untyped)
    rec = Record(_SHEETS[row.sheet], tuple(key), row.row, source, values=values, status=status,
                 ids=tuple(ids) if ids is not None else None)
    rec.changed = {f: (o, n) for f, o, n in changed} if changed is not None else _new(rec)
    return rec


# --- writing the detail ------------------------------------------------------------------------
#: the columns written, in the order of ``_lines``' tuples
_COLUMNS = ("batch_id", "seq", "kind", "sheet", "row", "column", "key", "message", "value",
            "data", "choice")


def _issue(batch_id: int, seq: int, kind: str, e: CellIssue, key: Any = None) -> tuple:
    value = json_value(e.value)
    return (batch_id, seq, kind, e.sheet, e.row, e.column, key, e.message,
            None if value is None else str(value), None, None)


def _lines(batch_id: int, result: ImportResult) -> Iterator[tuple]:
    """The detail's lines; a created or modified line keeps its key in its data only."""
    seq = 0
    for c in result.conflicts:
        yield (batch_id, seq, "conflict", c.issue.sheet, c.issue.row, c.issue.column,
               _dump(c.as_dict()["key"]), c.issue.message, _dump([c.texts[0], c.texts[1]]),
               c.ident, c.choice)
        seq += 1
    for e in result.errors:
        yield _issue(batch_id, seq, "error", e)
        seq += 1
    for e in result.notes:
        yield _issue(batch_id, seq, "verify" if e.message.startswith("à vérifier") else "note", e)
        seq += 1
    for rec in result.changes:
        yield (batch_id, seq, _BY_STATUS[rec.status], rec.sheet.name, rec.row, None, None, None,
               None, _record_data(rec), None)
        seq += 1


def _insert(conn: Any, lines: list[tuple]) -> None:
    """Many lines in one ``executemany`` of the driver (no per-row work of SQLAlchemy)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(conn.dialect.identifier_preparer.quote(n) for n in _COLUMNS)
    conn.exec_driver_sql(f"INSERT INTO {ImportChange.__tablename__} ({names}) "
                         f"VALUES ({', '.join([mark] * len(_COLUMNS))})", lines)


def store(conn: Any, batch_id: int, result: ImportResult, chunk: int = 5000) -> dict:
    """Write the detail of ``result`` for the batch (the previous one dropped); returns the
    batch's summary: per-sheet counts, the detail's counts per kind and sheet, warnings."""
    table = ImportChange.__table__
    conn.execute(delete(table).where(table.c.batch_id == batch_id))
    kinds: dict[str, int] = dict.fromkeys(KINDS, 0)
    sheets: dict[str, int] = {}
    lines: list[tuple] = []
    for line in _lines(batch_id, result):
        kinds[line[2]] += 1
        sheets[line[3]] = sheets.get(line[3], 0) + 1
        lines.append(line)
        if len(lines) >= chunk:
            _insert(conn, lines)
            lines = []
    if lines:
        _insert(conn, lines)
    return summary(result, kinds, sheets)


def add_errors(conn: Any, batch_id: int, errors: list[CellIssue]) -> int:
    """Errors found at the apply, after the preview's detail; returns the batch's errors."""
    last = conn.scalar(select(func.max(C.seq)).where(C.batch_id == batch_id))
    start = (last if last is not None else -1) + 1
    _insert(conn, [_issue(batch_id, start + n, "error", e) for n, e in enumerate(errors)])
    return conn.scalar(select(func.count()).select_from(C).where(C.batch_id == batch_id,
                                                                 C.kind == "error"))


def summary(result: ImportResult, kinds: dict[str, int], sheets: dict[str, int]) -> dict:
    out = {"sheets": {name: c for name, c in result.counts.items() if any(c.values())},
           "warnings": result.warnings[:WARNINGS], "warnings_total": len(result.warnings),
           "kinds": kinds, "detail_sheets": sheets}
    if result.problem:
        out["problem"] = result.problem
    return out


# --- reading it ---------------------------------------------------------------------------------
def page(session: Any, batch_id: int, kind: Any = None, sheet: Optional[str] = None,
         offset: int = 0, limit: int = 50) -> tuple[list, int]:
    """One page of the detail (in ``seq`` order), filtered by kind (or kinds) and sheet, and the number
    of lines the filter keeps."""
    where = [C.batch_id == batch_id]
    if isinstance(kind, tuple):
        where.append(C.kind.in_(kind))
    elif kind:
        where.append(C.kind == kind)
    if sheet:
        where.append(C.sheet == sheet)
    total = session.scalar(select(func.count()).select_from(C).where(*where))
    rows = session.execute(select(C.seq, C.kind, C.sheet, C.row, C.column, C.key, C.message,
                                  C.value, C.data, C.choice).where(*where)
                           .order_by(C.seq).offset(offset).limit(limit)).all()
    return rows, total


def records(session: Any, batch_id: int) -> list[Record]:
    """The records the apply writes, in the order of the preview."""
    query = (select(C.sheet, C.row, C.data).where(C.batch_id == batch_id,
                                                   C.kind.in_(("created", "modified")))
             .order_by(C.seq))
    return [record(row) for row in session.execute(query)]


def conflicts(session: Any, batch_id: int) -> list[tuple[int, str, Optional[str]]]:
    """(number, id, side chosen) of the batch's conflicts."""
    return session.execute(select(C.seq, C.data, C.choice).where(
        C.batch_id == batch_id, C.kind == "conflict").order_by(C.seq)).all()


def stored_conflicts(session: Any, batch_id: int) -> list:
    """The batch's conflicts as the preview found them (``imports.merge.Conflict``), with the
    side chosen for each."""

    out = []
    for r in session.execute(select(C.sheet, C.row, C.column, C.key, C.message, C.value, C.data,
                                    C.choice).where(C.batch_id == batch_id, C.kind == "conflict")
                             .order_by(C.seq)):
        mine, theirs = json.loads(r.value)
        issue = CellIssue(r.sheet, r.row, r.column, mine, r.message)
        out.append(Conflict(r.data, issue, r.data.rsplit("|", 1)[1], mine, theirs, (mine, theirs),
                            tuple(json.loads(r.key or "[]")), r.choice))
    return out


def unchosen(session: Any, batch_id: int) -> int:
    return session.scalar(select(func.count()).select_from(C).where(
        C.batch_id == batch_id, C.kind == "conflict", C.choice.is_(None)))


def choose(session: Any, batch_id: int, choices: dict[str, str]) -> None:
    """Record the side chosen for each conflict named by its id."""
    mine = (C.batch_id == batch_id, C.kind == "conflict")
    if len(set(choices.values())) == 1 and len(choices) == session.scalar(
            select(func.count()).select_from(C).where(*mine)):   # one side for all: one statement
        session.execute(update(C).where(*mine).values(choice=next(iter(choices.values()))))
        return
    for ident, side in choices.items():
        session.execute(update(C).where(C.batch_id == batch_id, C.kind == "conflict",
                                        C.data == ident).values(choice=side))


def errors(session: Any, batch_id: int) -> list[CellIssue]:
    return [CellIssue(r.sheet, r.row, r.column, r.value, r.message) for r in session.execute(
        select(C.sheet, C.row, C.column, C.value, C.message).where(
            C.batch_id == batch_id, C.kind == "error").order_by(C.seq))]
