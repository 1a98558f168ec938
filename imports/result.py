"""What an import found: per-sheet counts, every error with its cell, warnings, changes."""
from __future__ import annotations

import datetime as dt
import enum
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterator, Optional

from app.sheets import SHEETS, Sheet

#: field → translated label, while ``labels_once()`` holds: a preview names a column on
#: thousands of rows, and each ``Column.label`` looks up the locale and translates again
_LABELS: ContextVar[Optional[dict[str, str]]] = ContextVar("bhasile_import_labels", default=None)


@contextmanager
def labels_once() -> Iterator[None]:
    """Within it, each column's label is translated once (the locale stays the same)."""
    token = _LABELS.set({})
    try:
        yield
    finally:
        _LABELS.reset(token)


def label_of(column: Any) -> str:
    """``column.label``, translated once per field inside ``labels_once()``."""
    labels = _LABELS.get()
    if labels is None:
        return column.label
    found = labels.get(column.field)
    if found is None:
        found = labels[column.field] = column.label
    return found

STATUSES = ("new", "updated", "unchanged", "skipped", "errors")


@dataclass(slots=True)
class CellIssue:
    """An error on one cell (or row) of the file, as the agent will look for it."""

    sheet: str
    row: int
    column: Optional[str]
    value: Any
    message: str
    source_sheet: str = ""
    col: Optional[int] = None          #: 1-based column of the file, when known

    def as_dict(self) -> dict:
        return {"sheet": self.sheet, "row": self.row, "column": self.column,
                "value": json_value(self.value), "message": self.message}


@dataclass(slots=True)
class Record:
    """One canonical row read from the file: its key, values, status and what it changes."""

    sheet: Sheet
    key: tuple
    row: int
    source: str
    values: dict[str, Any] = field(default_factory=dict)
    cols: dict[str, int] = field(default_factory=dict)
    errors: list[CellIssue] = field(default_factory=list)
    status: str = "new"
    ids: Optional[tuple] = None        #: (id, version, ...) of the stored records
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    derived: bool = False              #: read from a side-by-side column of another sheet

    def error(self, field_name: Optional[str], message: str, value: Any = None) -> None:
        column = self.sheet.by_field.get(field_name) if field_name else None
        col = self.cols.get(field_name) if field_name else None
        self.errors.append(CellIssue(self.sheet.name, self.row, label_of(column) if column else None,
                                     value, message, self.source,
                                     col + 1 if col is not None else None))

    def change_dict(self) -> dict:
        by_field = self.sheet.by_field
        fields = {label_of(by_field[f]): [json_value(by_field[f].kind.render(o)),
                                          json_value(by_field[f].kind.render(n))]
                  for f, (o, n) in self.changed.items()}
        return {"sheet": self.sheet.name, "key": [json_value(k) for k in self.key],
                "status": self.status, "row": self.row, "fields": fields}


def json_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10] if not isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    if value is None or isinstance(value, (int, float, str, bool, list)):
        return value
    return str(value)


@dataclass
class ImportResult:
    """The outcome of a preview or an apply."""

    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {s.name: dict.fromkeys(STATUSES, 0) for s in SHEETS})
    errors: list[CellIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)   #: new, updated and error rows
    problem: Optional[str] = None                          #: the file itself is unusable
    rows_read: int = 0
    applied: bool = False
    notes: list[CellIssue] = field(default_factory=list)   #: remarks on cells (not errors)
    conflicts: list = field(default_factory=list)          #: ``imports.merge.Conflict``

    @property
    def open_conflicts(self) -> list:
        """Conflicts no side was chosen for: nothing is written while one remains."""
        return [c for c in self.conflicts if c.choice is None]

    @property
    def exit_code(self) -> int:
        return 2 if self.problem else (1 if self.errors or self.open_conflicts else 0)

    @property
    def changes(self) -> list[Record]:
        return [r for r in self.records if r.status in ("new", "updated")]

    def as_dict(self) -> dict:
        with labels_once():
            changes = [r.change_dict() for r in self.changes]
        out = {"sheets": {name: c for name, c in self.counts.items() if any(c.values())},
               "errors": [e.as_dict() for e in self.errors],
               "warnings": list(self.warnings),
               "changes": changes}
        if self.notes:
            out["notes"] = [e.as_dict() for e in self.notes]
        if self.conflicts:
            out["conflicts"] = [c.as_dict() for c in self.conflicts]
        if self.problem:
            out["problem"] = self.problem
        return out
