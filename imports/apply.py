"""Apply a previewed import: all rows in one transaction, or nothing.

Set-based, sheet by sheet. First every stored row the import changes is read back, a chunk
of ids per query (locked ``FOR UPDATE`` on PostgreSQL), and its version compared with the one
the preview saw: if another user changed a row since, nothing is written and the rows are
named. Then one UPDATE per set of changed columns (``WHERE version =`` the version checked,
bumping version, updated_at, updated_by), one multi-row INSERT of the new rows (ids in
order; see ``imports.bulk``), and at the end the change history of the whole batch in one
statement (``app.audit.HistoryBatch``): the same rows the ORM hook writes for a form, tagged
with the batch. These statements bypass the ORM unit of work, so the hook does not write
them twice; what the other session hooks do (aggregates' rebuild, campaign tasks back
« en cours ») is done here.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Optional

from sqlalchemy import select

from app.audit import HistoryBatch
from app.campagnes import TABLE_SECTIONS, reopen_tasks
from app.jobs import WATCHED_TABLES
from app.sheets import APPLY_ORDER, Lookups, Sheet
from app.sheets.normalize import norm
from models import Adresse, AdresseAnnee, Convention, ConventionStructure, Operateur, Structure

from . import bulk
from .result import Record

CHUNK = 2000
REFERENCES = {"structure_id", "operateur_id", "departement_id"}
ADRESSE, ANNEE, LINK = Adresse.__table__, AdresseAnnee.__table__, ConventionStructure.__table__


class StaleRows(Exception):
    """Rows changed by someone else since the preview: the import must be previewed again."""

    def __init__(self, rows: list[str]):
        super().__init__("Des lignes ont été modifiées depuis l'aperçu : " + ", ".join(rows[:20])
                         + (" ..." if len(rows) > 20 else "") + ". Relancez l'aperçu.")
        self.rows = rows


def _describe(rec: Record) -> str:
    key = " / ".join(str(k) for k in rec.key)
    return f"{rec.sheet.name} ligne {rec.row} ({key})"


def _values(rec: Record) -> dict[str, Any]:
    """The fields a record writes: all of a new row, the changed ones of an updated row."""
    return rec.values if rec.status == "new" else {f: n for f, (_o, n) in rec.changed.items()}


class Applier:
    """Writes the new and updated rows of a preview in bulk, with their change history.

    ``_set`` and ``_links`` write one ORM object (the grid's save uses them, audited by the
    session hook).
    """

    def __init__(self, session: Any, lookups: Lookups, progress: Any = None):
        self.session, self.lookups = session, lookups
        #: ``progress("write", rows written, rows to write)``, told sheet by sheet
        self.progress = progress or (lambda stage, done, total: None)
        self.stale: list[str] = []
        self.named: set[int] = set()                                  #: records in ``stale``
        self.conn: Any = None
        self.stored: dict[str, dict[int, Any]] = defaultdict(dict)   #: table → id → stored row
        self.touched: dict[int, set[str]] = {}                      #: structure → sections
        self.tables: set[str] = set()                                #: tables written
        self.history: Optional[HistoryBatch] = None
        self.attributes: dict[str, dict[str, str]] = {}              #: sheet → field → column

    # --- the import: bulk -------------------------------------------------------------------
    def apply(self, records: list[Record]) -> int:
        """Write every new and updated record; raises ``StaleRows`` (nothing written) when a
        stored row changed since the preview."""
        todo = [(sheet, [r for r in records if r.sheet is sheet and r.status in ("new", "updated")])
                for sheet in APPLY_ORDER]
        todo = [(sheet, recs) for sheet, recs in todo if recs]
        if not todo:
            return 0
        self.conn = self.session.connection()
        self.history = HistoryBatch(self.conn)
        for sheet, recs in todo:
            self._check(sheet, recs)
        if self.stale:
            raise StaleRows(self.stale)
        total, done = sum(len(recs) for _sheet, recs in todo), 0
        for sheet, recs in todo:
            self.progress("write", done, total)
            if sheet.parent is not None:
                self._adresses(sheet, recs)
            else:
                self._plain(sheet, recs)
            done += len(recs)
        self.history.write()
        self._notify()
        return sum(len(recs) for _sheet, recs in todo)

    def _check(self, sheet: Sheet, recs: list[Record]) -> None:
        """Read back (and lock) the stored rows ``recs`` change; name those changed since."""
        pairs = (((2, ADRESSE), (0, ANNEE)) if sheet.parent is not None
                 else ((0, sheet.model.__table__),))
        for pos, table in pairs:
            expected = [(rec.ids[pos], rec.ids[pos + 1], rec) for rec in recs
                        if rec.ids is not None and rec.ids[pos] is not None]
            found = self._load(table, [i for i, _v, _r in expected])
            for obj_id, version, rec in expected:
                row = found.get(obj_id)
                if (row is None or row["version"] != version) and id(rec) not in self.named:
                    self.named.add(id(rec))
                    self.stale.append(_describe(rec))

    def _load(self, table: Any, ids: Iterable[int]) -> dict[int, dict]:
        found = self.stored[table.name]
        found.update(bulk.lock(self.conn, table, sorted(set(ids) - set(found))))
        return found

    def _plain(self, sheet: Sheet, recs: list[Record]) -> None:
        table = sheet.model.__table__
        changes, new = [], []
        for rec in recs:
            values = self._resolve(sheet, _values(rec))
            if rec.ids is None or rec.ids[0] is None:
                new.append((rec, values))
            else:
                changes.append((rec.ids[0], rec.ids[1], values))
        self._update(table, changes)
        ids = self._insert(table, [values for _rec, values in new])
        if sheet.model is Convention:  # their structures, in the order of the file
            created = {id(rec): i for i, (rec, _values) in zip(ids, new)}
            links = []
            for rec in recs:
                if id(rec) in created and "codes_dna" in rec.values:
                    links.append((created[id(rec)], (), rec.values["codes_dna"]))
                elif id(rec) not in created and "codes_dna" in rec.changed:
                    links.append((rec.ids[0], *rec.changed["codes_dna"]))
            self._convention_links(links)
        self._remember(sheet, [(i, rec, values) for i, (rec, values) in zip(ids, new)])

    def _resolve(self, sheet: Sheet, values: dict[str, Any]) -> dict[str, Any]:
        """Column name → value to store: references turned into ids (as ``_set`` does)."""
        attrs = self.attributes.get(sheet.name)
        if attrs is None:
            attrs = self.attributes[sheet.name] = {
                c.field: c.attribute for c in sheet.columns if not c.read_only and c.field != "codes_dna"}
        out = {}
        for field, value in values.items():
            attr = attrs.get(field)
            if attr is not None:
                out[attr] = self._reference(attr, value) if attr in REFERENCES else value
        return out

    def _reference(self, attr: str, value: Any) -> Any:
        if attr == "structure_id":
            return self.lookups.structures[value][0] if value else None
        if attr == "operateur_id":
            return self.lookups.operateur_id(value)
        if attr == "departement_id":
            return self.lookups.departements[value][0] if value else None
        return value

    # --- statements -------------------------------------------------------------------------
    def _update(self, table: Any, changes: list[tuple[int, int, dict]],
                structure_of: Optional[dict[int, Optional[int]]] = None) -> None:
        """UPDATE the stored rows (id, version checked, values): one statement per set of
        columns actually changed (``imports.bulk``); the history of each changed field."""
        groups: dict[tuple, list[tuple]] = defaultdict(list)
        stored = self.stored[table.name]
        for obj_id, version, values in changes:
            old = stored[obj_id]
            changed = {name: value for name, value in values.items() if old[name] != value}
            if not changed:
                continue
            sid = (structure_of or {}).get(obj_id) or _structure(
                table.name, obj_id, changed if "structure_id" in changed else old)
            self.history.updated(table, obj_id, old, changed, sid)
            self._touch(table.name, sid)
            names = tuple(sorted(changed))
            groups[names].append((obj_id, version, *(changed[n] for n in names)))
        stamp = {"updated_at": self.history.now, "updated_by": self.history.updated_by}
        for names, rows in groups.items():
            done = bulk.update_rows(self.conn, table, names, rows, stamp)
            if self.conn.dialect.supports_sane_multi_rowcount and done != len(rows):
                raise StaleRows([f"{table.name} : {len(rows) - done} ligne(s) modifiée(s) "
                                 "pendant l'écriture"])

    def _insert(self, table: Any, rows: list[dict], structures: Optional[list] = None) -> list[int]:
        """INSERT the new rows (multi-row, ids returned in order); the history of each."""
        if not rows:
            return []
        defaults = {c.name: c.default.arg for c in table.columns
                    if c.default is not None and c.default.is_scalar and c.name != "version"}
        stamp = {"version": 1, "updated_at": self.history.now, "updated_by": self.history.updated_by}
        # as the ORM does: a column with a default gets it when the row leaves it empty
        full = [{**row, **{n: v for n, v in defaults.items() if row.get(n) is None}, **stamp}
                for row in rows]
        groups: dict[tuple, list[int]] = defaultdict(list)
        for n, row in enumerate(full):
            groups[tuple(row)].append(n)
        ids: list[int] = [0] * len(full)
        for names, positions in groups.items():
            rows_in = [tuple(full[n][name] for name in names) for n in positions]
            for n, obj_id in zip(positions, bulk.insert_rows(self.conn, table, names, rows_in)):
                ids[n] = obj_id
        for n, (obj_id, row) in enumerate(zip(ids, full)):
            sid = structures[n] if structures is not None else _structure(table.name, obj_id, row)
            self.history.created(table, obj_id, row, sid)
            self._touch(table.name, sid)
        return ids

    def _touch(self, table_name: str, structure_id: Optional[int]) -> None:
        self.tables.add(table_name)
        section = TABLE_SECTIONS.get(table_name)
        if section is not None and structure_id is not None:
            self.touched.setdefault(structure_id, set()).add(section)

    # --- sheets with more than one table ----------------------------------------------------
    def _convention_links(self, wanted: list[tuple[int, Any, Any]]) -> None:
        """The structures of each convention, (id, old codes, new codes) as the preview compared
        them, in the importer's territory: the links of the codes gone deleted, of the codes
        come added, with their history; the structures of a CPOM outside it stay covered."""
        if not wanted:
            return
        ids = [cid for cid, _old, _codes in wanted]
        current: dict[int, dict[int, Any]] = defaultdict(dict)
        for start in range(0, len(ids), CHUNK):
            for row in self.conn.execute(select(LINK).where(
                    LINK.c.convention_id.in_(ids[start:start + CHUNK])).with_for_update()):
                current[row.convention_id][row.structure_id] = row._mapping
        gone, new = [], []
        for cid, old, codes in wanted:
            sids = {self.lookups.structures[c][0] for c in codes or ()}
            dropped = {self.lookups.structures[c][0] for c in old or ()} - sids
            for sid, link in current[cid].items():
                if sid in dropped:
                    gone.append(link["id"])
                    self.history.deleted(LINK, link["id"], link, sid)
            new.extend({"convention_id": cid, "structure_id": sid} for sid in sids - set(current[cid]))
        for start in range(0, len(gone), CHUNK):
            self.conn.execute(LINK.delete().where(LINK.c.id.in_(gone[start:start + CHUNK])))
        if gone:
            self.tables.add(LINK.name)
        self._insert(LINK, new)

    def _adresses(self, sheet: Sheet, recs: list[Record]) -> None:
        """Adresses rows: the address (parent, shared by its years) then the year row."""
        parents: dict[int, dict] = {}            # stored address → merged changes
        versions: dict[int, int] = {}
        new_parents: list[dict] = []
        years, new_years = [], []                 # (id, version, values); (parent, values)
        for rec in recs:
            values = _values(rec)
            parent_values = self._resolve(sheet, {f: v for f, v in values.items()
                                                  if sheet.by_field[f].target == "parent"})
            year_values = self._resolve(sheet, {f: v for f, v in values.items()
                                                if sheet.by_field[f].target == "row"})
            if rec.ids is None or rec.ids[2] is None:
                new_parents.append(parent_values)
                parent = ("new", len(new_parents) - 1)
            else:
                parent = ("stored", rec.ids[2])
                parents.setdefault(rec.ids[2], {}).update(parent_values)
                versions[rec.ids[2]] = rec.ids[3]
            if rec.values.get("annee") is None:
                continue
            if rec.ids is not None and rec.ids[0] is not None:
                years.append((rec.ids[0], rec.ids[1], year_values))
            else:
                new_years.append((parent, year_values))
        self._update(ADRESSE, [(pid, versions[pid], values) for pid, values in parents.items()])
        new_ids = self._insert(ADRESSE, new_parents)

        def parent_id(parent: tuple) -> int:
            return new_ids[parent[1]] if parent[0] == "new" else parent[1]

        def structure(pid: int) -> Optional[int]:
            if pid in parents and "structure_id" in parents[pid]:
                return parents[pid]["structure_id"]
            if pid in self.stored[ADRESSE.name]:
                return self.stored[ADRESSE.name][pid]["structure_id"]
            return new_parents[new_ids.index(pid)].get("structure_id")

        stored_years = self.stored[ANNEE.name]
        self._update(ANNEE, years, {yid: structure(stored_years[yid]["adresse_id"]) for yid, _v, _x in years})
        rows = [{**values, "adresse_id": parent_id(parent)} for parent, values in new_years]
        self._insert(ANNEE, rows, [structure(row["adresse_id"]) for row in rows])

    # --- after the statements ---------------------------------------------------------------
    def _remember(self, sheet: Sheet, created: list[tuple[int, Record, dict]]) -> None:
        """Make the opérateurs and structures just created known to the rows that follow."""
        for obj_id, rec, values in created:
            if sheet.model is Operateur:
                name = values.get("nom") or rec.key[0]
                self.lookups.operateurs.setdefault(norm(name), (obj_id, name))
            elif sheet.model is Structure:
                self.lookups.structures[values["code_dna"]] = (
                    obj_id, values.get("departement_id"), values.get("operateur_id"))

    def _notify(self) -> None:
        """What the session hooks do after an ORM write: ask for the aggregates' rebuild,
        put an opérateur's campaign tasks back « en cours »."""
        if self.tables & WATCHED_TABLES:
            self.session.info["bhasile_rebuild"] = True
        reopen_tasks(self.session, self.touched)

    # --- one ORM object (the grid) ----------------------------------------------------------
    def _set(self, obj: Any, sheet: Sheet, field: str, value: Any) -> None:
        column = sheet.by_field[field]
        if column.read_only:
            return
        if field == "codes_dna":
            self._links(obj, value or ())
            return
        setattr(obj, column.attribute, self._reference(column.attribute, value))

    def _links(self, convention: Convention, codes: tuple) -> None:
        wanted = {self.lookups.structures[c][0] for c in codes}
        current = {link.structure_id: link for link in convention.structures}
        for sid, link in current.items():
            if sid not in wanted:
                convention.structures.remove(link)
        for sid in wanted - set(current):
            convention.structures.append(ConventionStructure(structure_id=sid))


def _structure(table_name: str, obj_id: int, values: Any) -> Optional[int]:
    """The structure a row belongs to, for the history (``app.audit._structure_id``)."""
    if table_name == "structure":
        return obj_id
    return values.get("structure_id")
