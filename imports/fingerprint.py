"""Rows an agent left as exported, recognised by their fingerprint (``app.sheets.fingerprint``).

By the three-way merge (``imports.merge``), a row the file holds as exported keeps BHasile's
values whatever happened since: its outcome is « unchanged » without reading its values. Only
its key is read (a key met twice in the file is still a duplicate) and, for an agent, its
territory is still asked (``imports.checks``). The full reading stays for every row whose
outcome the history may change: a row BHasile changed, created or deleted since the export —
its own record, a record it shows (an opérateur renamed), or the record its key names (a
structure deleted, a code changed) — gets the notes and warnings the merge gives it.

A fingerprint anyone may forge: such a row only ever counts as unchanged (nothing written).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from sqlalchemy import select

from app.sheets import Sheet
from app.sheets import fingerprint as fp
from models import ConventionStructure
from models.historique import Changement

from .headers import SheetPlan
from .merge import EXPORT_UTC_KEY, LINKED, Base, shown_key

_CHUNK = 5000


@dataclass
class Touched:
    """A sheet's keys (as ``shown_key``) whose rows the history since the export concerns."""

    keys: set = field(default_factory=set)
    parts: set = field(default_factory=set)   #: (position in the key, value) of deleted records

    def __contains__(self, shown: tuple) -> bool:
        return shown in self.keys or any((i, v) in self.parts for i, v in enumerate(shown))


class Untouched:
    """The file's rows left as exported: their fingerprint, and what BHasile did since."""

    def __init__(self, meta: dict, base: Base):
        self.stamp, self.label = str(meta.get(EXPORT_UTC_KEY)), meta.get(fp.META_KEY)
        self.base = base

    def matcher(self, plan: SheetPlan) -> Optional[Callable[[list], bool]]:
        """Whether a row of the sheet is as exported (its fingerprint is the digest of its
        cells); ``None`` when the sheet holds no fingerprint column, or values the export
        computed for its reader's territory (``Sheet.extra``: a convention's codes DNA), which
        another reader's import compares with their own share: those rows are read in full."""
        if plan.primary.extra is not None:
            return None
        header = plan.raw.rows[plan.header_pos][1]
        at = next((i for i, v in enumerate(header)
                   if isinstance(v, str) and v.strip() == self.label), None) if self.label else None
        if at is None:
            return None
        start, pad = fp.salt(self.stamp, plan.raw.name), [None] * at

        def as_exported(cells: list) -> bool:
            mark = cells[at] if at < len(cells) else None
            if mark.__class__ is not str:
                return False
            return fp.fingerprint(start, cells[:at] if len(cells) >= at else (cells + pad)[:at]) == mark
        return as_exported

    def touched_keys(self, sheet: Sheet) -> Optional[Touched]:
        """The keys of ``sheet`` the history since the export concerns (``None``: none)."""
        found = touched(self.base, sheet)
        return found if found.keys or found.parts else None


def touched(base: Base, sheet: Sheet) -> Touched:
    """The keys of the sheet's rows whose records (or the records they show) the history holds
    since the export — as they are now and as they were — and of its records deleted since."""
    found = Touched(keys=set(base.deleted_keys(sheet)))
    key_columns = sheet.key_columns
    tables = {e.table.name: e.table for e in sheet.ids[::2]}
    changed = {name: set(base.changes(name)) for name in tables}   # the rows' own records
    shown: dict[str, set[str]] = {}
    for c in sheet.columns:
        table = getattr(c.expr, "table", None)
        if table is not None and table.name not in changed:
            tables[table.name] = table
            shown.setdefault(table.name, set()).add(c.expr.key)
    for name, fields in shown.items():   # a record a row shows: when what it shows changed
        created = base.created.get(name, set())
        changed[name] = {ident for ident, old in base.changes(name).items()
                         if ident in created or fields & old.keys()}
    own = base.tables(sheet)[0]
    for f in LINKED:
        if f in sheet.by_field:   # a convention's codes: its links, or a structure they name
            changed[own] |= {int(i) for i in base.linked_ids(f)} | _conventions_of(
                base, base.changes("structure"))
    n = len(key_columns)
    key_tables = [c.expr.table for c in key_columns]
    query = sheet.source(select(*(c.expr for c in key_columns), *(t.c.id for t in key_tables)))
    for name, ids in changed.items():
        ids = sorted(ids)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            for row in base.session.execute(query.where(tables[name].c.id.in_(chunk))):
                found.keys.add(shown_key(sheet, row[:n]))
                found.keys.add(shown_key(sheet, _as_exported(base, key_columns, row, n)))
    for i, column in enumerate(key_columns):
        if key_tables[i].name != own:
            found.parts |= {(i, v) for v in _deleted_values(base, column)}
    return found


def _as_exported(base: Base, key_columns: list, row: Any, n: int) -> list:
    """A stored row's key as it was at the export (a key cell changed since: its old value)."""
    out = list(row[:n])
    for i, column in enumerate(key_columns):
        old = base.changes(column.expr.table.name).get(row[n + i], {})
        if column.expr.key in old:
            out[i] = old[column.expr.key]
    return out


def _deleted_values(base: Base, column: Any) -> set[str]:
    """The values (as the history writes them) of ``column`` in the records of its table
    deleted since the export: a structure deleted is a code DNA no row may be read for."""
    expr = column.expr
    query = select(Changement.entity_id, Changement.field, Changement.old_value).where(
        Changement.entity == expr.table.name, Changement.action == "delete",
        Changement.at >= base.since)
    if expr.key == "id":     # never a field of the history: the record's own id
        return {str(ident) for ident, _f, _old in base.session.execute(query)}
    return {old for _i, f, old in base.session.execute(query.where(Changement.field == expr.key))
            if old is not None}


def _conventions_of(base: Base, structures: dict) -> set[int]:
    """The conventions linked to ``structures`` (ids): a code DNA changed shows in their list."""
    ids = sorted(structures)
    found: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        found.update(base.session.scalars(select(ConventionStructure.convention_id).where(
            ConventionStructure.structure_id.in_(ids[start:start + _CHUNK]))))
    return found
