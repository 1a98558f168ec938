"""Old files never undo newer changes: the three-way merge of an edited export.

An export writes, beside each data sheet, a hidden twin holding the values as exported (the
*base*, named in ``_bhasile`` as ``base:<sheet>``). On import, per field of a row present in the
base, with each column kind's ``same`` (a formatting difference is not a change):

- file = stored: unchanged;
- file = base, stored ≠ base: changed in BHasile since the export, the newer value is kept
  (nothing written, a note says so);
- file ≠ base, stored = base: the agent's change, applied;
- file ≠ base, stored ≠ base, file ≠ stored: a **conflict**, nothing is written until the agent
  chooses a side per cell (``fichier``: the file's value is written; ``bhasile``: the field is
  left as stored).

A row of the base that BHasile no longer holds (deleted since) is not recreated. A row missing
from the base (added by the agent) is compared as always. A file without twins (the agents' own
files) is compared as always, and its rows changed in BHasile after the file's own modification
date are flagged « à vérifier » (``imports.filedate``).

The base only ever narrows what the file writes: what remains still goes through the write
gate, so an edited hidden sheet cannot write more than the visible one could.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Optional

from sqlalchemy import select

from app.heures import to_paris
from app.rules import validate as domain_rules
from app.sheets import Sheet
from models.historique import Changement

from .checks import Existing, match_key
from .headers import detect
from .reader import RawSheet
from .result import CellIssue, ImportResult, Record, json_value
from .filedate import modified_at

MINE, THEIRS = "fichier", "bhasile"
SIDES = (MINE, THEIRS)
BASE_KEY = "base:"            #: same as ``exports.writer.BASE_KEY`` (imports never import exports)
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


# --- reading the base --------------------------------------------------------------------------
def twin_names(meta: dict) -> dict[str, str]:
    """``_bhasile``'s ``base:<sheet>`` entries: data sheet → its hidden twin."""
    return {str(k)[len(BASE_KEY):]: str(v) for k, v in meta.items()
            if isinstance(k, str) and k.startswith(BASE_KEY) and isinstance(v, str)}


def twins(command: Any, plans: list, raws: list[RawSheet], ignore: set[str]) -> dict:
    """Each data sheet of the file that has a twin: (the twin's plan, the numbers of the visible
    rows left exactly as exported, the twin's rows that no visible row equals). Raw cells only:
    computed before any cleaning (``ImportCommand`` skips the rows left as exported)."""
    found: dict[str, tuple] = {}
    names = twin_names(getattr(command, "meta", {}) or {})
    by_name = {raw.name: raw for raw in raws}
    for plan in plans:
        twin = by_name.get(names.get(plan.raw.name, ""))
        if twin is None:
            continue
        base_plan = detect(replace(twin, name=plan.raw.name), frozenset(ignore))
        if base_plan is None or base_plan.primary is not plan.primary:
            continue
        visible = {_cells(cells): number for number, cells in plan.raw.rows[plan.header_pos + 1:]}
        same: set[int] = set()
        differing = []
        for number, cells in base_plan.raw.rows[base_plan.header_pos + 1:]:
            at = visible.pop(_cells(cells), None)
            if at is None:
                differing.append((number, cells))
            else:
                same.add(at)
        found[plan.raw.name] = (base_plan, same, differing)
    return found


def base_records(command: Any, plans: list, raws: list[RawSheet], ignore: set[str]) -> dict:
    """The rows of every twin, read as their visible sheet is (same header detection and
    cleaning), by (sheet of the file, canonical sheet, key); and, under (sheet of the file,
    ``SAME``), the numbers of the visible rows the agent left exactly as exported.

    A twin row whose cells are those of a visible row (most rows of an edited export) is not
    cleaned again: its base is the visible row's own values."""
    found: dict[tuple, Any] = {}
    pairs = getattr(command, "twins", None)
    if pairs is None:
        pairs = twins(command, plans, raws, ignore)
    for name, (base_plan, same, differing) in pairs.items():
        found[(name, SAME)] = same
        rows = base_plan.raw.rows[:base_plan.header_pos + 1] + differing
        base_plan = replace(base_plan, raw=replace(base_plan.raw, rows=rows))
        kept, command.result = command.result, ImportResult()   # the base says nothing itself
        try:
            records = command._records(base_plan, quick=False)
        finally:
            command.result = kept
        for rec in records:
            if rec.key and rec.key[0] != "nouvelle" and not any(
                    e.column in {rec.sheet.by_field[f].label for f in rec.sheet.key} for e in rec.errors):
                found.setdefault((rec.source, rec.sheet.name, match_key(rec.sheet, rec.key)), rec)
    return found


def changed_since_export(command: Any) -> Optional[tuple[set, set]]:
    """(tables, (table, id) pairs) of the records changed in BHasile since the file was
    exported (one query on the history), or ``None`` for a file without an export instant.

    Only the rows the agent left exactly as exported use it: the merge never writes such a row
    (file = base on every field), so a change it misses (an edited ``export_utc``, a
    transaction committed after the export read its rows) can only cost the note saying that
    a newer value is kept, never a write."""
    raw = (getattr(command, "meta", {}) or {}).get(EXPORT_UTC_KEY)
    try:
        since = dt.datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None
    if since is None:
        return None
    if since.tzinfo is not None:
        since = since.astimezone(dt.timezone.utc).replace(tzinfo=None)
    query = select(Changement.entity, Changement.entity_id).where(
        Changement.at >= since).distinct()
    pairs = {(entity, ident) for entity, ident in command.session.execute(query)}
    return {entity for entity, _id in pairs}, pairs


#: ``base_records``' entry of a sheet's visible rows left exactly as exported
SAME = object()


def _cells(cells: list) -> tuple:
    """A row's cells, comparable with another row's (trailing empty cells aside)."""
    end = len(cells)
    while end and cells[end - 1] is None:
        end -= 1
    return tuple(cells[:end])


def attach(command: Any, plans: list, raws: list[RawSheet], ignore: set[str]) -> None:
    """Before the comparison: the base of an edited export narrows it (``Merger``)."""
    base = base_records(command, plans, raws, ignore)
    command.has_base = bool(base)
    if base:
        command.checker.merge = Merger(base, command.result, command.choices)


def after(command: Any, records: list[Record]) -> None:
    """After the comparison: a file without a base has its rows changed in BHasile since the
    file was last saved flagged « à vérifier »."""
    if command.has_base or command.result.problem:
        return

    since = modified_at(command.data)
    if since is not None:
        flag_newer(command.session, records, since, command.result)


# --- comparing ----------------------------------------------------------------------------------
class Merger:
    """Called by the checker on each row once compared with the stored one (``rec.changed``
    holds the fields where file ≠ stored): narrows it with the base."""

    def __init__(self, base: dict, result: ImportResult, choices: Optional[dict] = None):
        self.base, self.result, self.choices = base, result, choices or {}

    def __call__(self, rec: Record, row: Optional[tuple], stored: Existing) -> None:
        if rec.errors or not rec.key:
            return
        base = self.base.get((rec.source, rec.sheet.name, match_key(rec.sheet, rec.key)))
        if base is None:
            if rec.row not in self.base.get((rec.source, SAME), ()):
                return
            base = rec   # the row as exported: every difference with BHasile is BHasile's
        if rec.status == "new":
            self._deleted(rec)
            return
        unreadable = {e.column for e in base.errors}
        for f, (old, new) in list(rec.changed.items()):
            column = rec.sheet.by_field[f]
            if f not in base.values or column.label in unreadable:
                continue
            same, was = stored.same[f], base.values[f]
            if same(was, new):      # the agent left it; BHasile changed it since: kept
                del rec.changed[f]
                rec.values.pop(f, None)
                self.result.notes.append(note(rec, f, "modifié dans BHasile depuis l'export "
                                              f"(valeur actuelle conservée : {shown(column, old)})", new))
            elif not same(was, old):
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
