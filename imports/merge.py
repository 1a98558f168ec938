"""Old files never undo newer changes: the three-way merge of an edited export.

An export records in ``_bhasile`` the instant it was made (``export_utc``). On import, the
*base* of a row — its values as exported — is rebuilt from the change history: a record BHasile
has not changed since is as exported (its base is the stored row); for the others, a field's
base is the old value of its earliest change after the export (``Base``). Per field, with each
column kind's ``same`` (a formatting difference is not a change):

- file = stored: unchanged;
- file = base, stored ≠ base: changed in BHasile since the export, the newer value is kept
  (nothing written, a note says so);
- file ≠ base, stored = base: the agent's change, applied;
- file ≠ base, stored ≠ base, file ≠ stored: a **conflict**, nothing is written until the agent
  chooses a side per cell (``fichier``: the file's value is written; ``bhasile``: the field is
  left as stored).

A row of the file whose record was deleted since the export is not recreated. A row BHasile did
not hold (added by the agent) is compared as always; so is a convention's list of codes DNA
(its history is that of the ``convention_structure`` rows), flagged « à vérifier » when it
changed since the export. Files exported before the history served as base held hidden twin
sheets (``_base1``...): they are never read (``imports.reader``), the same rule applies. A file
without an export instant (the agents' own files) is compared as always, and its rows changed in
BHasile after the file's own modification date are flagged « à vérifier »
(``imports.filedate``).

The base only ever narrows what the file writes: what remains still goes through the write
gate, and the base comes from BHasile, never from the file.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Optional

from sqlalchemy import func, select

from app.audit import changed as audit_changed
from app.audit import render_value
from app.heures import to_paris
from app.rules import validate as domain_rules
from app.sheets import Sheet
from app.sheets.normalize import norm
from models.historique import Changement

from .checks import Existing
from .writes import stored_ids
from .result import CellIssue, ImportResult, Record, json_value
from .filedate import modified_at

MINE, THEIRS = "fichier", "bhasile"
SIDES = (MINE, THEIRS)
EMPTY = "(vide)"
EXPORT_UTC_KEY = "export_utc"   #: same as ``exports.writer.EXPORT_UTC_KEY``


@dataclass
class Conflict:
    """One cell changed both in the file and in BHasile since the export, differently."""

    ident: str                 #: ``sheet|key|field``: the same at every reading of the file
    issue: CellIssue           #: where the agent will look for it (sheet, row, column)
    field: str
    mine: Any
    theirs: Any
    texts: tuple[str, str]     #: both values as the agent reads them
    key: tuple = ()
    choice: Optional[str] = None

    def as_dict(self) -> dict:
        e = self.issue
        return {"id": self.ident, "sheet": e.sheet, "row": e.row, "column": e.column,
                "key": [shown_value(k) for k in self.key], "mine": self.texts[0],
                "theirs": self.texts[1], "choice": self.choice,
                "message": e.message}


def shown_value(value: Any) -> str:
    """A value as the agent reads it in a message (jj/mm/aaaa, decimal comma, Oui/Non)."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, (Decimal, float)):
        return str(value).replace(".", ",")
    label = getattr(value, "label", None)
    if label is not None:
        return str(label)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def shown(column: Any, value: Any) -> str:
    """A stored or cleaned value of ``column`` as the agent reads it (labels of enumerations)."""
    try:
        value = column.kind.render(value) if value is not None else None
    except Exception:   # a value the kind does not render: shown as it is
        pass
    return shown_value(value)


def note(rec: Record, field: Optional[str], message: str, value: Any = None) -> CellIssue:
    """A remark on a cell (or row) of the file that is not an error."""
    column = rec.sheet.by_field.get(field) if field else None
    col = rec.cols.get(field) if field else None
    return CellIssue(rec.sheet.name, rec.row, column.label if column else None, value, message,
                     rec.source, col + 1 if col is not None else None)


def conflict_id(sheet: Sheet, key: tuple, field: str) -> str:
    return f"{sheet.name}|{json.dumps([json_value(k) for k in key], ensure_ascii=False)}|{field}"


# --- the base: the values as exported, rebuilt from the history ----------------------------------
def export_instant(meta: dict) -> Optional[dt.datetime]:
    """The instant ``_bhasile`` says the file was exported (naive UTC), or ``None`` (missing,
    unreadable or in the future: the file is then read as a file without export metadata)."""
    raw = (meta or {}).get(EXPORT_UTC_KEY)
    try:
        since = dt.datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None
    if since is not None and since.tzinfo is not None:
        since = since.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if since is not None and since > dt.datetime.now(dt.timezone.utc).replace(tzinfo=None):
        return None      # a forged instant would hide the changes made since: none is used
    return since


#: fields that are no column of their record: (the table whose history holds them, the column
#: of that table naming the record) — a convention's codes DNA are its ``convention_structure`` rows
LINKED = {"codes_dna": ("convention_structure", "convention_id")}


class Base:
    """What BHasile held at the export, for the records changed since (the history).

    A record without history since the export is as exported: its base is the stored row (no
    query). For the others, the base of a field is the old value of its earliest change after
    the export (a field they did not change is as stored). One query per table, for the
    records changed since only; a record created since has no base."""

    def __init__(self, session: Any, since: dt.datetime):
        self.session, self.since = session, since
        self.first: dict[str, dict[int, dict[str, Optional[str]]]] = {}   #: table → id → field → value
        self.created: dict[str, set[int]] = {}
        self.deleted: dict[str, dict[tuple, int]] = {}    #: table → key (as ``shown_key``) → id
        self.linked: dict[str, set[str]] = {}              #: ``LINKED`` table → ids of the parents
        self.shown: dict[tuple, Optional[str]] = {}        #: (column field, id) → value shown
        self._tables: dict[str, list[str]] = {}

    def tables(self, sheet: Sheet) -> list[str]:
        """The tables of the records a row of ``sheet`` writes (the row's, then its parent's)."""
        found = self._tables.get(sheet.name)
        if found is None:
            found = self._tables[sheet.name] = [expr.table.name for expr in sheet.ids[::2]]
        return found

    def changes(self, table: str) -> dict[int, dict[str, Optional[str]]]:
        """Record id → field → its value at the export, for the records changed since."""
        found = self.first.get(table)
        if found is None:
            rank = func.row_number().over(partition_by=(Changement.entity_id, Changement.field),
                                          order_by=(Changement.at, Changement.id)).label("rank")
            ranked = (select(Changement.entity_id, Changement.field, Changement.old_value,
                             Changement.action, rank)
                      .where(Changement.entity == table, Changement.at >= self.since,
                             Changement.entity_id.is_not(None))
                      .subquery())
            found, created = self.first[table], self.created[table] = {}, set()
            query = select(ranked.c.entity_id, ranked.c.field, ranked.c.old_value,
                           ranked.c.action).where(ranked.c.rank == 1)
            for ident, field, old, action in self.session.execute(query):
                fields = found.setdefault(ident, {})
                if action == "create":
                    created.add(ident)
                elif field is not None:
                    fields[field] = old
        return found

    def linked_changed(self, field: str, ident: Any) -> bool:
        """Whether a ``LINKED`` field of record ``ident`` changed since the export."""
        return str(ident) in self.linked_ids(field)

    def linked_ids(self, field: str) -> set[str]:
        """The records whose ``LINKED`` field changed since the export (ids as text)."""
        table, column = LINKED[field]
        found = self.linked.get(table)
        if found is None:
            found = self.linked[table] = set()
            for old, new in self.session.execute(
                    select(Changement.old_value, Changement.new_value).where(
                        Changement.entity == table, Changement.field == column,
                        Changement.at >= self.since)):
                found.update(v for v in (old, new) if v)
        return found

    def value(self, column: Any, table: str, raw: Optional[str]) -> Optional[str]:
        """A history value of ``column`` as the sheet shows it: a reference's id (an opérateur,
        a structure) is shown by the name or code of the record it names."""
        expr = column.expr
        if raw is None or (expr.table.name == table and expr.key == column.attribute):
            return raw
        key = (column.field, raw)
        if key not in self.shown:
            try:
                ident = int(raw)
            except ValueError:
                self.shown[key] = None
            else:
                found = self.session.scalar(select(expr).where(expr.table.c.id == ident))
                self.shown[key] = None if found is None else render_value(found)
        return self.shown[key]

    def deleted_keys(self, sheet: Sheet) -> dict[tuple, int]:
        """The keys of the sheet's records deleted since the export (their values as deleted)."""
        table = self.tables(sheet)[0]
        found = self.deleted.get(sheet.name)
        if found is None:
            found = self.deleted[sheet.name] = {}
            values: dict[int, dict] = {}
            for ident, field, old in self.session.execute(
                    select(Changement.entity_id, Changement.field, Changement.old_value).where(
                        Changement.entity == table, Changement.action == "delete",
                        Changement.at >= self.since)):
                values.setdefault(ident, {})[field] = old
            parent = self.tables(sheet)[1] if len(sheet.ids) > 2 else None
            for ident, fields in values.items():
                key = []
                for f in sheet.key:
                    column = sheet.by_field[f]
                    if column.target == "parent" and column.attribute == "id":
                        raw = fields.get(f"{parent}_id")
                    else:
                        raw = self.value(column, table, fields.get(column.attribute))
                    key.append(raw)
                found[shown_key(sheet, key)] = ident
        return found


def shown_key(sheet: Sheet, key: Any) -> tuple:
    """A key as the history writes its values, comparable across both sources."""
    texts = tuple(render_value(k) for k in key)
    if sheet.name == "Opérateurs" and texts and texts[0]:
        return (norm(texts[0]),)
    return texts


def _equal(same: Any, base: Optional[str], value: Any) -> bool:
    """Whether a cleaned or stored ``value`` is the base (a history value: text, ISO dates,
    enumeration codes, decimals as written), a formatting difference aside."""
    text = render_value(value)
    if not audit_changed(base, text):
        return True
    if base is None or text is None:
        return False
    if isinstance(value, (Decimal, float, int)) and not isinstance(value, bool):
        try:
            return Decimal(base) == Decimal(text)
        except ArithmeticError:
            return False
    if value.__class__ is str:
        try:
            return bool(same(base, value))
        except Exception:   # a kind that compares only its own values
            return False
    return False


def attach(command: Any) -> None:
    """Before the comparison: an export's rows are merged with their base (``Merger``)."""
    since = export_instant(getattr(command, "meta", {}))
    command.has_base = since is not None
    if since is not None:
        command.checker.merge = Merger(Base(command.session, since), command.result,
                                       command.choices, command.checker.gate)


def after(command: Any, records: list[Record]) -> None:
    """After the comparison: a file without an export instant has its rows changed in BHasile
    since the file was last saved flagged « à vérifier »."""
    if command.has_base or command.result.problem:
        return

    since = modified_at(command.data)
    if since is not None:
        flag_newer(command.session, records, since, command.result)


# --- comparing ----------------------------------------------------------------------------------
class Merger:
    """Called by the checker on each row once compared with the stored one (``rec.changed``
    holds the fields where file ≠ stored): narrows it with the base."""

    def __init__(self, base: Base, result: ImportResult, choices: Optional[dict] = None,
                 gate: Any = None):
        self.base, self.result, self.choices, self.gate = base, result, choices or {}, gate

    def __call__(self, rec: Record, row: Optional[tuple], stored: Existing) -> None:
        if rec.errors or not rec.key:
            return
        sheet, base = rec.sheet, self.base
        if rec.status == "new":
            if rec.key[0] != "nouvelle" and \
                    shown_key(sheet, rec.key) in base.deleted_keys(sheet):
                self._deleted(rec)
            return
        if not rec.changed:          # the usual row: the file says what BHasile holds
            return
        if self.gate is not None and not self.gate.scope.national and not all(
                self.gate.inside(model, ident, "read") for model, ident in stored_ids(rec)):
            return   # another territory's row: the gate refuses it, and says none of its values
        tables = base.tables(sheet)
        ids = rec.ids or ()
        for f, (old, new) in list(rec.changed.items()):
            column = sheet.by_field[f]
            if f in LINKED:
                if ids and base.linked_changed(f, ids[0]):
                    self.result.notes.append(note(
                        rec, f, "à vérifier : modifié dans BHasile depuis l'export (valeur "
                        f"actuelle : {shown(column, old)}), la valeur du fichier sera appliquée", new))
                continue
            if column.expr is None or column.read_only:
                continue
            at = 1 if column.target == "parent" and len(tables) > 1 else 0
            ident = ids[2 * at] if len(ids) > 2 * at else None
            if ident is None:
                continue
            changes = base.changes(tables[at]).get(ident)
            if changes is None or column.attribute not in changes \
                    or ident in base.created[tables[at]]:
                continue        # as exported: the agent's change
            was, same = base.value(column, tables[at], changes[column.attribute]), stored.same[f]
            if _equal(same, was, new):      # the agent left it; BHasile changed it since: kept
                del rec.changed[f]
                rec.values.pop(f, None)
                self.result.notes.append(note(rec, f, "modifié dans BHasile depuis l'export "
                                              f"(valeur actuelle conservée : {shown(column, old)})", new))
            elif not _equal(same, was, old):
                self._conflict(rec, f, new, old)
        if not rec.changed:
            rec.status = "unchanged"

    def _deleted(self, rec: Record) -> None:
        rec.status = "skip"
        self.result.counts[rec.sheet.name]["skipped"] += 1
        key = " / ".join(shown_value(k) for k in rec.key)
        self.result.warnings.append(
            f"Feuille « {rec.source} », ligne {rec.row} ({key}) : ligne supprimée de BHasile "
            "depuis l'export, elle n'est pas recréée.")

    def _conflict(self, rec: Record, f: str, mine: Any, theirs: Any) -> None:
        ident = conflict_id(rec.sheet, rec.key, f)
        choice = self.choices.get(ident)
        column = rec.sheet.by_field[f]
        texts = (shown(column, mine), shown(column, theirs))
        message = ("conflit : modifié dans votre fichier et dans BHasile depuis l'export — "
                   f"votre fichier : {texts[0]} / BHasile : {texts[1]}")
        self.result.conflicts.append(Conflict(ident, note(rec, f, message, mine), f, mine, theirs,
                                              texts, rec.key, choice if choice in SIDES else None))


def resolve(result: ImportResult, checker: Any) -> None:
    """Apply the choices: a conflict settled for BHasile leaves its field as stored (the rules
    are checked again on what the row becomes); errors are added to ``result``."""
    theirs = {c.ident for c in result.conflicts if c.choice == THEIRS}
    if not theirs:
        return
    kept = []
    for rec in list(result.records):
        dropped = [f for f in rec.changed if conflict_id(rec.sheet, rec.key, f) in theirs]
        if not dropped:
            continue
        for f in dropped:
            del rec.changed[f]
            rec.values.pop(f, None)
        if not rec.changed:
            rec.status = "unchanged"
            result.records.remove(rec)
            continue
        kept.append(rec)
    checker.load(kept)   # their stored rows, for the rules on what each row becomes
    for rec in kept:
        existing = checker.stored(rec.sheet)
        row = existing.get(rec.key)
        current = SimpleNamespace(**dict(zip(existing.fields, row))) if row is not None else None
        for error in domain_rules(rec.sheet.model, dict(rec.values), current):
            field = error.field if error.field in rec.sheet.by_field else None
            rec.error(field, error.message, rec.values.get(field) if field else None)
            result.errors.append(rec.errors[-1])


# --- files without a base: « à vérifier » ----------------------------------------------------------
def flag_newer(session: Any, records: list[Record], since: dt.datetime, result: ImportResult) -> None:
    """Rows the file would change although BHasile changed them after ``since`` (the file's
    own modification date, naive UTC): a warning on the row, since the file may put an older
    value back. A row the file leaves as stored risks nothing: not flagged. One query."""
    targets: dict[tuple[str, int], list[Record]] = {}
    for rec in records:
        if rec.ids is None or rec.errors or rec.status != "updated":
            continue
        ids = rec.sheet.ids
        for i in range(0, len(ids) - 1, 2):
            ident = rec.ids[i] if i < len(rec.ids) else None
            if ident is not None:
                targets.setdefault((ids[i].table.name, ident), []).append(rec)
    if not targets:
        return
    entities = sorted({entity for entity, _id in targets})
    query = (select(Changement.entity, Changement.entity_id, Changement.at)
             .where(Changement.at > since, Changement.entity.in_(entities))
             .order_by(Changement.at))
    latest: dict[int, tuple[Record, dt.datetime]] = {}
    for entity, entity_id, at in session.execute(query):
        for rec in targets.get((entity, entity_id), ()):
            latest[id(rec)] = (rec, at)
    saved = to_paris(since)
    for rec, at in sorted(latest.values(), key=lambda item: (item[0].source, item[0].row)):
        key_field = rec.sheet.key[0]
        at = to_paris(at)
        result.notes.append(note(
            rec, key_field, f"à vérifier : ligne modifiée dans BHasile le {at:%d/%m/%Y à %H:%M} "
            f"(heure de Paris), après la dernière modification du fichier ({saved:%d/%m/%Y à %H:%M})",
            rec.values.get(key_field)))
        result.warnings.append(
            f"Feuille « {rec.source} », ligne {rec.row} ({' / '.join(shown_value(k) for k in rec.key)}) : "
            f"à vérifier, modifiée dans BHasile le {at:%d/%m/%Y à %H:%M} (heure de Paris), après la "
            f"dernière modification du fichier ({saved:%d/%m/%Y à %H:%M}).")
