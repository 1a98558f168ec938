"""Compare the rows read from a file with the database (status, changed fields), then ask the
write gate (``app.gate``) about every row: territory, relations, the State's fields; then the
domain rules on the row's values."""
from __future__ import annotations

from array import array
from collections import defaultdict
from itertools import chain
from operator import itemgetter
from types import SimpleNamespace
from typing import Any, Iterable, Optional

from sqlalchemy import or_, select

from app.pilotage.completude import GAP_TABLES, missing_in_row
from app.gate import UNCHECKED, Gate, reserved_fields
from app.rules import RuleError
from app.rules import validate as domain_rules
from app.scope import Scope
from app.sheets import BY_NAME, Lookups, Sheet
from app.sheets.normalize import norm
from models import Operateur

from .result import ImportResult, Record
from .writes import NEW_IDS, REFERENCES, Translator, Write, id_models, row_ids, stored_ids


def match_key(sheet: Sheet, key: tuple) -> tuple:
    """The form of a key used to find a stored row (names compared without case or accents)."""
    if sheet.model is Operateur:
        return (norm(key[0]),) if key[0] else key
    return key


def stored_ids_by_key(session: Any, sheet: Sheet, where: Iterable[Any] = ()) -> dict[tuple, tuple]:
    """The (id, version...) of each stored row of ``sheet`` (those meeting ``where``), by key:
    what a row the file holds as exported needs (its key and ids only, not ``Existing``'s
    every column)."""
    n = len(sheet.key)
    rows = session.connection().execute(
        sheet.source(select(*(c.expr for c in sheet.key_columns), *sheet.ids)).where(*where))
    return {match_key(sheet, tuple(row[:n])): tuple(row[n:]) for row in rows}


class Existing:
    """The stored rows of one sheet, by key: column values and (id, version) pairs.

    ``keys``: only the rows whose first key field is among the first fields of these keys (a
    preview compares ``CHUNK_RECORDS`` records at a time: it never holds every stored row of a
    large sheet); ``None``: every row (an opérateur's name is matched without case or accents,
    so that small sheet is always read whole)."""

    def __init__(self, session: Any, sheet: Sheet, scope: Scope, keys: Optional[Iterable[tuple]] = None):
        self.sheet, self.scope = sheet, scope   # computed values (a convention's codes) in scope
        self.fields = [c.field for c in sheet.columns if c.expr is not None]
        self.pos = {f: i for i, f in enumerate(self.fields)}
        key_pos = [self.pos[f] for f in sheet.key]
        self.rows: dict[tuple, tuple] = {}
        n = len(self.fields)
        if session.autoflush:   # as ``session.execute`` would: the rows as the session holds them
            session.flush()
        # the statement is plain columns: run by the connection, without the ORM's per-row work
        rows = chain.from_iterable(map(tuple, session.connection().execute(statement))
                                   for statement in _statements(sheet, keys))
        if sheet.model is Operateur:
            self.rows = {match_key(sheet, tuple(row[i] for i in key_pos)): row for row in rows}
        elif len(key_pos) == 1:
            at = key_pos[0]
            self.rows = {(row[at],): row for row in rows}
        else:
            self.rows = {tuple([row[i] for i in key_pos]): row for row in rows}
        self.n = n
        self.extra = None
        self.same = {c.field: c.kind.same for c in sheet.columns}
        self.required = [c for c in sheet.columns if c.required and c.field not in sheet.key]
        self._picks: dict[tuple, Any] = {}   #: fields of a record → their stored values' getter

    def get(self, key: tuple) -> Optional[tuple]:
        return self.rows.get(match_key(self.sheet, key) if self.sheet.model is Operateur else key)

    def value(self, row: tuple, field: str, session: Any) -> Any:
        if field in self.pos:
            return row[self.pos[field]]
        if self.sheet.extra is not None:
            if self.extra is None:
                ids = [r[self.n] for r in self.rows.values()]
                self.extra = self.sheet.extra(session, ids, self.scope)
            return self.extra.get(row[self.n], {}).get(field)
        return None

    def changes(self, row: tuple, values: dict[str, Any], session: Any) -> dict[str, tuple]:
        """Field → (stored, new) for each of ``values`` that differs from the stored ``row``."""
        fields = tuple(values)
        pick = self._picks.get(fields)
        if pick is None:   # the stored values of these fields in one call, when all are columns
            at = [self.pos.get(f) for f in fields]
            pick = self._picks[fields] = (itemgetter(*at) if len(at) > 1 else
                                          (lambda row: (row[at[0]],))) if at and None not in at else False
        if pick and pick(row) == tuple(values.values()):
            return {}      # equal values are the same for every kind: the usual row, unchanged
        pos, same, changed = self.pos, self.same, {}
        for f, new in values.items():
            at = pos.get(f)
            old = row[at] if at is not None else self.value(row, f, session)
            if old != new and not same[f](old, new):
                changed[f] = (old, new)
        return changed

    def ids(self, row: tuple) -> tuple:
        return tuple(row[self.n:])

    def any_with(self, field: str, value: Any) -> Optional[tuple]:
        """A stored row whose ``field`` is ``value`` (an address known under another year)."""
        if not hasattr(self, "_by"):
            self._by = {}
            for row in self.rows.values():
                self._by.setdefault(row[self.pos[field]], row)
        return self._by.get(value)


#: values of one ``IN (...)`` list: far under SQLite's 32,766 parameters and PostgreSQL's 65,535
IN_LIST = 5_000


def _statements(sheet: Sheet, keys: Optional[Iterable[tuple]]) -> list:
    """The statements reading the stored rows of ``keys`` (all rows when ``keys`` is ``None``,
    or for the opérateurs, whose names are matched without case or accents)."""
    if keys is None or sheet.model is Operateur:
        return [sheet.select()]
    expr = sheet.by_field[sheet.key[0]].expr
    typed = expr.type.python_type   # an address's key may be « nouvelle »: never a stored id
    wanted = sorted({k[0] for k in keys if k and isinstance(k[0], typed)})
    return [sheet.select().where(expr.in_(wanted[i:i + IN_LIST]))
            for i in range(0, len(wanted), IN_LIST)]


class DuplicateKeys:
    """The keys a file has held so far, in ~40 bytes a key whatever its size (a national file
    holds a million): a 64-bit digest of (sheet, key) in a set, and the digests with their row
    in arrays, read only to name the row a duplicate repeats. Two different keys of one file
    sharing a digest (odds about 1 in 10^7 for a million keys) would be reported as a duplicate:
    a visible refusal, never a silent loss."""

    def __init__(self):
        self._digests: set[int] = set()
        self._order = array("q")
        self._rows = array("q")

    def note(self, records: list, exported: Optional[tuple] = None) -> dict[int, int]:
        """Notes the keys of ``records``; returns, for each record whose key the file held in
        an earlier row (of an earlier chunk or of this one), ``id(record)`` → that first row.
        The usual chunk, without a duplicate, is checked in a few calls that each walk it in C.
        A new address (« nouvelle ») has a key of its own row: never noted. ``records`` may hold
        rows left as exported, (key, row) of the sheet ``exported`` names (``Checker.compare``)."""
        sheet = exported[0] if exported is not None else None
        name, by_name = (sheet.name, sheet.model is Operateur) if sheet is not None else (None, False)
        kept = [rec for rec in records if rec.__class__ is tuple or rec.key[:1] != ("nouvelle",)]
        digests = [hash((name, match_key(sheet, rec[0]) if by_name else rec[0]))
                   if rec.__class__ is tuple else
                   hash((rec.sheet.name, match_key(rec.sheet, rec.key)
                         if rec.sheet.model is Operateur else rec.key)) for rec in kept]
        fresh = set(digests)
        if len(fresh) == len(digests) and self._digests.isdisjoint(fresh):
            self._digests |= fresh
            self._order.extend(digests)
            self._rows.extend([rec[1] if rec.__class__ is tuple else rec.row for rec in kept])
            return {}
        held = {}
        for rec, digest in zip(kept, digests):
            if digest in self._digests:
                held[id(rec)] = self._rows[self._order.index(digest)]
                continue
            self._digests.add(digest)
            self._order.append(digest)
            self._rows.append(rec[1] if rec.__class__ is tuple else rec.row)
        return held


class Checker:
    """Everything a preview checks once the rows are read: one write gate for the whole file,
    asked once per model for the ids of all its rows, and the stored rows of the records
    compared, one statement per sheet (the number of SQL statements grows only with the chunks
    of ``imports.pipeline.CHUNK_RECORDS`` records, never with the rows)."""

    def __init__(self, session: Any, scope: Scope, lookups: Lookups):
        self.session, self.scope, self.lookups = session, scope, lookups
        self.existing: dict[str, Existing] = {}
        self.gate = Gate(scope, session, new_ids={m: set(ids) for m, ids in NEW_IDS.items()})
        self.translator = Translator(lookups)
        self._outside: Optional[RuleError] = None   #: ``_hidden``
        #: records whose key (or stored row) could not be read: nothing to ask the gate
        self._unread: set[int] = set()
        #: ``imports.merge.Merger`` when the file is an edited export: narrows each row's changes
        self.merge: Any = None
        #: the keys met across ``compare`` calls (a key met twice in the file is a duplicate,
        #: whichever sheets of the file hold it)
        self.seen = DuplicateKeys()
        #: (sheet, key → ids of its stored rows) for the rows left as exported (``_as_exported``)
        self._exported: tuple[Optional[Sheet], dict] = (None, {})

    def stored(self, sheet: Sheet) -> Existing:
        """The stored rows ``load`` read for ``sheet`` (every row, when it read none)."""
        if sheet.name not in self.existing:
            self.existing[sheet.name] = Existing(self.session, sheet, self.scope)
        return self.existing[sheet.name]

    def load(self, records: list[Record]) -> None:
        """The stored rows of these records' keys, in place of those read before."""
        keys: dict[str, tuple[Sheet, list[tuple]]] = {}
        for rec in records:
            keys.setdefault(rec.sheet.name, (rec.sheet, []))[1].append(rec.key)
        self.existing = {name: Existing(self.session, sheet, self.scope, wanted)
                         for name, (sheet, wanted) in keys.items()}
        if self.merge is not None and not self.scope.national:
            # the merge asks whether a changed row is inside the territory: asked for all at once
            ids: dict[type, set] = defaultdict(set)
            for stored in self.existing.values():
                for row in stored.rows.values():
                    for model, ident in row_ids(stored.sheet, stored.ids(row)):
                        ids[model].add(ident)
            for model, found in ids.items():
                self.gate.preload(model, found, "read")

    def compare(self, records: list, result: ImportResult, progress: Any = None,
                exported: Optional[tuple] = None) -> None:
        """Status, changes and the gate's and rules' verdict of every record (called once per
        chunk of a sheet of the file: only the records to write stay, in ``result.records``);
        ``progress`` (stage, done, total) hears every thousand records checked.

        ``records`` may hold rows the file holds as exported (``imports.fingerprint``): a
        (key, row) pair of the sheet ``exported`` names — (sheet, its name in the file, key
        cells by field). Such a row is unchanged whatever BHasile holds now (the three-way
        merge); a record is made of it only to say what is wrong with it: a key met twice, or
        a row outside an agent's territory."""
        repeated = self.seen.note(records, exported)
        self._unread = set()      # ids of this call's records (the previous ones are gone)
        self.load([rec for rec in records if rec.__class__ is not tuple])
        rows: list[tuple[Record, Optional[tuple], list[Write]]] = []
        national = self.scope.national
        as_exported = 0   #: rows left as exported, unchanged: nothing to ask, nothing to say
        for done, rec in enumerate(records):
            if progress is not None and not done % 1000:
                progress("check", done, len(records))
            if rec.__class__ is tuple:
                twice = id(rec) in repeated
                ids = None if national else self._exported_ids(exported[0], rec[0])
                if not twice and (national or ids is not None):
                    as_exported += 1
                    continue
                sheet, source, cols = exported
                rec = Record(sheet, rec[0], rec[1], source, {}, cols)
                if twice:
                    rec.error(sheet.key[0], f"clé en double dans le fichier : déjà ligne "
                              f"{repeated[id(records[done])]}", rec.key[0])
                self._as_exported(rec, rows, ids)
                continue
            sheet = rec.sheet
            read = bool(rec.key) and None not in rec.key   # other cells' errors: checked still
            if read and id(rec) in repeated:
                rec.error(sheet.key[0], f"clé en double dans le fichier : déjà ligne "
                          f"{repeated[id(rec)]}", rec.key[0])
            errors = len(rec.errors)
            row = self._status(rec)
            if not read or len(rec.errors) > errors:
                self._unread.add(id(rec))
            if self.merge is not None:
                self.merge(rec, row, self.stored(rec.sheet))
            if rec.status != "skip":
                rows.append((rec, row, self._writes(rec, row)))
            elif rec.derived and rec.key[0] in self.lookups.new_structures:
                self._gaps(rec, None, result)   # a new structure's year left empty
        if as_exported:
            result.counts[exported[0].name]["unchanged"] += as_exported
        self._preload(rows)
        for rec, row, writes in rows:
            if id(rec) not in self._unread:   # every error of the row: its cells', the gate's
                self._check(rec, row, writes)
            if rec.errors:
                rec.status = "errors"
                result.errors.extend(rec.errors)
            else:
                self._gaps(rec, row, result)
            result.counts[rec.sheet.name][rec.status] += 1
            if rec.status != "unchanged":
                result.records.append(rec)

    def _as_exported(self, rec: Record, rows: list, ids: Optional[tuple]) -> None:
        """A row the file holds as exported that has something to say (``compare``):
        unchanged, whatever BHasile holds now; for an agent, refused outside the territory
        (``ids``: ``_exported_ids``)."""
        rec.status = "unchanged"
        if not self.scope.national:
            rec.ids = ids
            if ids is None:   # outside the territory (or no longer stored): refused
                self._refuse(rec, self._hidden())
            self._unread.add(id(rec))   # the gate answered: nothing more to ask it
        rows.append((rec, None, []))

    def _exported_ids(self, sheet: Sheet, key: tuple) -> Optional[tuple]:
        """The stored ids of a row of ``sheet`` left as exported, when it is inside an agent's
        territory (``None``: outside, or no longer stored). One sheet's ids held at a time, read
        once: only the rows the gate says are inside (the query ``Gate.inside`` asks)."""
        if self._exported[0] is not sheet:
            inside = [or_(model.id.is_(None), self.gate.condition(model, "write"))
                      for model in id_models(sheet)]
            self._exported = (sheet, stored_ids_by_key(self.session, sheet, inside))
        return self._exported[1].get(match_key(sheet, key))

    def _status(self, rec: Record) -> Optional[tuple]:
        """New, updated, unchanged or skip, with the changed fields; the stored row."""
        stored = self.stored(rec.sheet)
        row = stored.get(rec.key) if not rec.errors or rec.key else None
        if row is None and rec.sheet.parent is not None and rec.key[0] not in (None, "nouvelle"):
            parent = stored.any_with("id", rec.key[0])
            if parent is None:
                rec.error("id", f"adresse inconnue : ID {rec.key[0]} (laissez l'ID vide pour une "
                          "nouvelle adresse)", rec.key[0])
            else:
                rec.ids = (None, None) + stored.ids(parent)[2:]
        if row is None:
            if rec.derived and all(v is None for f, v in rec.values.items() if f not in rec.sheet.key):
                rec.status = "skip"
                return None
            rec.status = "new"
            rec.changed = {f: (None, v) for f, v in rec.values.items()
                           if v is not None and not rec.sheet.by_field[f].read_only}
            return None
        rec.ids = stored.ids(row)
        rec.changed = stored.changes(row, rec.values, self.session)
        rec.status = "updated" if rec.changed else "unchanged"
        return row

    def _writes(self, rec: Record, row: Optional[tuple]) -> list[Write]:
        if id(rec) in self._unread or rec.status == "unchanged":
            return []
        if row is None and rec.ids is not None and rec.sheet.parent is not None:
            stored = self.stored(rec.sheet)   # a new year of a stored address
            return self.translator.writes(rec, stored.any_with("id", rec.key[0]),
                                          lambda r, f: stored.value(r, f, self.session))
        return self.translator.writes(rec)

    def _preload(self, rows: list[tuple[Record, Optional[tuple], list[Write]]]) -> None:
        """Ask the gate once per model for every id the rows refer to."""
        if self.scope.national:   # the gate asks nothing of the nation's rows
            return
        ids: dict[tuple[str, type], set] = defaultdict(set)
        for rec, _row, writes in rows:
            if id(rec) in self._unread:
                continue
            for model, ident in stored_ids(rec):
                ids[("write", model)].add(ident)
            for write in writes:
                for attr, value in write.values.items():
                    if attr in REFERENCES and value is not None:
                        ids[("choose", REFERENCES[attr])].add(value)
                for model, related in write.related.items():
                    ids[("choose", model)].update(related)
        for (kind, model), found in ids.items():
            self.gate.preload(model, found, kind)

    # --- the gate, then the rules -----------------------------------------------------------
    def _check(self, rec: Record, row: Optional[tuple], writes: list[Write]) -> None:
        if rec.status == "unchanged":
            # nothing to write, but a row of another territory is still an error, never skipped
            for model, ident in stored_ids(rec):
                if not self.gate.inside(model, ident, "write"):
                    return self._refuse(rec, self._hidden())
            return None
        bad = {e.column for e in rec.errors}   # cells in error: never reported twice
        denials: list[tuple[Write, RuleError]] = []
        for write in writes:
            found = self.gate.check(write.model, write.stored, write.values, UNCHECKED,
                                    write.related, rules=False)
            if found and found[0].field is None and getattr(found[0], "status", 422) in (403, 404):
                return self._refuse(rec, found[0])   # the role, or a row outside: nothing else said
            denials += [(write, d) for d in found]
        self._required(rec, row, bad)
        for write, denial in denials:
            if not (bad and denial.field is None and not write.related):  # a reference in error
                self._denied(rec, write, denial)
        current = None
        if row is not None:
            current = SimpleNamespace(**dict(zip(self.stored(rec.sheet).fields, row)))
        for error in domain_rules(rec.sheet.model, dict(rec.values), current):
            field = error.field if error.field in rec.sheet.by_field else None
            if field is None or rec.sheet.by_field[field].label not in bad:
                rec.error(field, error.message, rec.values.get(field) if field else None)
        return None

    def _hidden(self) -> RuleError:
        """The gate's refusal of a stored row outside the territory: it says nothing of the
        row, so one serves every row (a national file read by an agent)."""
        if self._outside is None:
            self._outside = self.gate.outside()
        return self._outside

    def _refuse(self, rec: Record, denial: RuleError) -> None:
        """The whole row refused: only what the file holds is shown, never the stored row."""
        rec.changed, rec.ids = {}, None
        rec.error(rec.sheet.key[0], denial.message, rec.key[0])

    def _denied(self, rec: Record, write: Write, denial: RuleError) -> None:
        sheet = rec.sheet
        field = self.translator.field_of(sheet, denial.field)
        if denial.field is None and write.related and "codes_dna" in sheet.by_field:
            outside = [code for code, ident in zip(*self._moved_codes(rec))
                       if not self.gate.inside(next(iter(write.related)), ident, "choose")]
            codes = ", ".join(outside)
            rec.error("codes_dna", f"{denial.message.rstrip('.')} : {codes}.", codes)
            return
        field = field or sheet.key[0]
        rec.error(field, denial.message, rec.values.get(field))

    def _moved_codes(self, rec: Record) -> tuple[list[str], list]:
        old, new = rec.changed["codes_dna"]
        codes = sorted(set(old or ()) ^ set(new or ()))
        return codes, self.translator.structures(codes)

    def _gaps(self, rec: Record, row: Optional[tuple], result: ImportResult) -> None:
        """A value a complete fiche needs, left empty by a new row or cleared by an update: a
        warning naming the fields, never an error (the fiche is « à compléter »)."""
        table = rec.sheet.model.__tablename__
        if rec.status not in ("new", "updated", "skip") or table not in GAP_TABLES:
            return
        kind = rec.values.get("type")
        if kind is None and row is not None and "type" in self.stored(rec.sheet).pos:
            kind = row[self.stored(rec.sheet).pos["type"]]
        cleared = None if rec.status != "updated" else [f for f, (_o, n) in rec.changed.items() if n is None]
        labels = missing_in_row(table, rec.values, kind, cleared,
                                reserved_fields(self.scope, rec.sheet.model))
        if labels:
            key = " ".join(str(k) for k in rec.key)
            result.warnings.append(f"Feuille « {rec.source} », ligne {rec.row} ({key}) : fiche à "
                                   f"compléter, manque : {', '.join(str(x) for x in labels)}.")

    def _required(self, rec: Record, row: Optional[tuple], bad: frozenset = frozenset()) -> None:
        for column in self.stored(rec.sheet).required:
            if column.label in bad:
                continue
            if column.field in rec.values and rec.values[column.field] is None:
                rec.error(column.field, f"{column.label} obligatoire : la cellule ne peut pas être vide")
            elif row is None and column.field not in rec.values:
                rec.error(None, f"{column.label} obligatoire pour créer la ligne")


__all__ = ["BY_NAME", "Checker", "Existing", "match_key"]
