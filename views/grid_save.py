"""A grid save: every changed cell read by the sheet's kinds, asked of the write gate, written
all together or not at all, as one entry of the change history ("grid save N").

The grid checks what belongs to a sheet — a key or read-only column, a cell its kind cannot
read, a required cell left empty — and asks the gate (``app.gate``, one per save) the rest, for
each row: the role's right (403), the row inside the territory (404, nothing else said about
it), no moving out and no relation outside, the State's fields for an opérateur, the domain
rules (422, each on its cell), the versions the row and its address were loaded at (428 when
missing or unreadable, 409 when someone else changed them since).
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Optional

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.audit import audit_context
from app.extensions import db
from app.gate import UNCHECKED, Gate, may_change
from app.scope import Scope
from app.sheets import Lookups
from app.sheets.kinds import CellError
from imports.apply import Applier
from app.locking import changes_since, parse_version
from models import Adresse, Structure
from models.grid import GridSave

from .grid_data import _displayer
from .grid_specs import GridSpec, Period
from .grid_targets import Target, load_targets, new_record
from .grid_undo import GridRefused, encode

MAX_ROWS = 5000
_VERSION = (409, 428)


@dataclass
class Plan:
    """What a save will write: typed values per row and target, every cell error, and the rows
    not found or loaded at another version."""

    changes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)

    def error(self, target: Target, name: Optional[str], message: str) -> None:
        self.errors.append({"k": target.key, "row": target.label, "field": name, "message": message})

    def conflict(self, target: Target, status: int, message: str, fields: Optional[dict] = None,
                 versions: Optional[dict] = None) -> None:
        self.conflicts.append({"k": target.key, "row": target.label, "status": status,
                               "message": message, "fields": fields or {}, "versions": versions or {}})


def _rows(payload: Any) -> list[dict]:
    rows = payload.get("rows") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("k"), str)
                                             and isinstance(r.get("values"), dict) for r in rows) \
            or len({r["k"] for r in rows}) != len(rows):
        raise GridRefused(400, _("Requête d'enregistrement illisible : rechargez la page."))
    if len(rows) > MAX_ROWS:
        raise GridRefused(400, _("Trop de lignes en un seul enregistrement (%(n)s au plus).", n=MAX_ROWS))
    return rows


def _gate(scope: Scope, targets: dict[str, Target]) -> Gate:
    """The save's gate, told at once about every row it will be asked about."""
    gate = Gate(scope, db.session)
    anchors: dict[type, set[int]] = defaultdict(set)
    records: dict[type, set[int]] = defaultdict(set)
    for target in targets.values():
        model, ident = target.anchor()
        anchors[model].add(ident)
        for record in (target.row, target.parent):
            if record is not None:
                records[type(record)].add(record.id)
    for model, ids in anchors.items():
        gate.preload(model, ids, "write")
        gate.preload(model, ids, "choose")  # a record created for a row is tied to its anchor
    for model, ids in records.items():
        gate.preload(model, ids, "write")
    return gate


def _refuse(plan: Plan) -> None:
    """Raise the refusal of a plan: rows not found, then versions, then cell errors."""
    if plan.missing:
        raise GridRefused(404, _("Lignes introuvables ou hors de votre périmètre : rien n'a été "
                                 "enregistré."), rows=sorted(set(plan.missing)))
    if plan.conflicts:
        rows = ", ".join(dict.fromkeys(c["row"] for c in plan.conflicts))
        errors = [{"k": c["k"], "row": c["row"], "field": None, "message": c["message"]}
                  for c in plan.conflicts]
        conflicts: dict[str, dict] = {}
        for c in plan.conflicts:  # one entry per row: its cells in conflict, its current versions
            entry = conflicts.setdefault(c["k"], {"k": c["k"], "row": c["row"], "fields": {}})
            entry["fields"].update(c["fields"])
            entry.update(c["versions"])
        conflicts = list(conflicts.values())
        if any(c["status"] == 409 for c in plan.conflicts):
            raise GridRefused(409, _("Ces lignes ont été modifiées par quelqu'un d'autre depuis leur "
                                     "chargement : %(rows)s. Rien n'a été enregistré ; rechargez la "
                                     "grille.", rows=rows), conflicts=conflicts, errors=errors)
        raise GridRefused(428, _("Version de chargement absente ou illisible pour : %(rows)s. Rien "
                                 "n'a été enregistré ; rechargez la grille.", rows=rows),
                          conflicts=conflicts, errors=errors)
    if plan.errors:
        raise GridRefused(422, _("%(n)s erreur(s) : rien n'a été enregistré.", n=len(plan.errors)),
                          errors=plan.errors)


class BatchSave:
    """The save of one grid page by one user."""

    def __init__(self, spec: GridSpec, scope: Scope, period: Period, user: Any):
        self.spec, self.scope, self.period, self.user = spec, scope, period, user
        self.sheet = spec.sheet
        self.lookups: Optional[Lookups] = Lookups(db.session) if spec.slug == "structures" else None
        self.applier = Applier(db.session, self.lookups)
        self.names: dict[str, dict[int, str]] = {}
        if self.lookups is not None:
            self.names = {"operateur_id": {i: n for i, n in self.lookups.operateurs.values()},
                          "departement_id": {i: c for c, (i, _r) in self.lookups.departements.items()}}

    def run(self, payload: Any) -> dict:
        """Check and write the rows of ``payload``; raises ``GridRefused`` with nothing written."""
        if not may_change(self.scope, self.sheet.area):
            raise GridRefused(403, _("Votre rôle ne permet pas de modifier la grille %(t)s.", t=self.spec.title))
        rows = _rows(payload)
        targets = load_targets(self.spec, self.period, [r["k"] for r in rows])
        gate = _gate(self.scope, targets)
        plan = Plan(missing=[r["k"] for r in rows if r["k"] not in targets
                             or not gate.inside(*targets[r["k"]].anchor(), "write")])
        if not plan.missing:
            for row in rows:
                self._plan_row(plan, gate, targets[row["k"]], row)
        _refuse(plan)
        if not plan.changes:
            return {"ok": True, "save_id": None, "message": _("Aucune modification à enregistrer.")}
        return self._write(plan, targets)

    # --- checks ------------------------------------------------------------------------
    def _current(self, target: Target, column: Any) -> Any:
        obj = target.obj(column.target)
        if obj is None:
            return None
        value = getattr(obj, column.attribute)
        names = self.names.get(column.attribute)
        return names.get(value) if names is not None and value is not None else value

    def _cells(self, plan: Plan, target: Target, values: dict) -> dict[str, dict[str, Any]]:
        """The typed values of the cells a row changes, by target; the sheet's own errors
        (key or read-only column, unreadable cell, required cell left empty) into ``plan``."""
        by_target: dict[str, dict[str, Any]] = {"parent": {}, "row": {}}
        for name, raw in values.items():
            column = self.sheet.by_field.get(name)
            if column is None or name in self.spec.keys or column.read_only:
                plan.error(target, name, _("Cette colonne n'est pas modifiable."))
                continue
            try:
                value = None if raw is None or str(raw).strip() == "" else column.kind.clean(raw, self.lookups)
            except CellError as exc:
                plan.error(target, name, str(exc))
                continue
            if value is None and column.required:
                plan.error(target, name, _("%(c)s obligatoire : la cellule ne peut pas être vide.", c=column.label))
                continue
            if not column.kind.same(self._current(target, column), value):
                by_target[column.target][name] = value
        return by_target

    def _plan_row(self, plan: Plan, gate: Gate, target: Target, row: dict) -> None:
        by_target = self._cells(plan, target, row["values"])
        if target.parent is not None:
            self._ask(plan, gate, target, "parent", by_target["parent"], row.get("pv"))
        if target.row is not None:
            self._ask(plan, gate, target, "row", by_target["row"], row.get("v"))
        elif row.get("v") is not None:
            plan.conflict(target, 409, _("Cette ligne a été supprimée depuis son chargement."))
        elif by_target["row"]:
            self._ask(plan, gate, target, "row", by_target["row"], UNCHECKED)
        changes = {where: changed for where, changed in by_target.items() if changed}
        if changes:
            plan.changes[target.key] = changes

    def _ask(self, plan: Plan, gate: Gate, target: Target, where: str, changed: dict,
             version: Any) -> None:
        """Ask the gate about one record of a row (its address or its own record, created when
        it has none yet) and put each refusal on its cell, its row, or the missing rows."""
        model = Adresse if where == "parent" else self.sheet.model
        stored = target.obj(where)
        columns = {name: self.sheet.by_field[name] for name in changed}
        values = {c.attribute: self.applier._reference(c.attribute, changed[name])
                  for name, c in columns.items()}
        if stored is None:
            values = {**target.creation(), **values}
        fields = {c.attribute: c.field for c in self.sheet.columns if c.target == where}
        for denial in gate.check(model, stored, values, version):
            status = getattr(denial, "status", 422)
            if status == 404:
                plan.missing.append(target.key)
            elif status == 409 and stored is not None:
                plan.conflict(target, status, denial.message, self._theirs(stored, where, changed, version),
                              {"pv" if where == "parent" else "v": stored.version})
            elif status in _VERSION:
                plan.conflict(target, status, denial.message)
            else:
                plan.error(target, fields.get(denial.field), denial.message)

    def _theirs(self, stored: Any, where: str, changed: dict, version: Any) -> dict:
        """The cells of a stale record the user changed and someone else changed too since
        ``version`` (all the user's cells when the history says nothing): the value stored now,
        as the grid shows it, and who stored it. The record is inside the user's territory
        (the gate said so before the version): nothing of another territory is told."""
        loaded = parse_version(version) if not isinstance(version, int) else version
        changes = changes_since(stored, loaded) if loaded is not None else []
        touched: dict[str, Optional[str]] = {}
        for change in reversed(changes):   # oldest first: the newest author wins
            touched[change.field] = change.username
        out = {}
        for name in changed:
            column = self.sheet.by_field[name]
            if touched and column.attribute not in touched:
                continue
            current = self._current_of(stored, column)
            shown = self._shown(name)(current) if current is not None else None
            out[name] = {"theirs": shown, "by": touched.get(column.attribute)}
        return out

    def _current_of(self, stored: Any, column: Any) -> Any:
        value = getattr(stored, column.attribute)
        names = self.names.get(column.attribute)
        if names is not None and value is not None:
            return names.get(value)
        if column.attribute == "structure_id" and value is not None:   # an address's structure
            return db.session.get(Structure, value).code_dna
        return value

    def _shown(self, name: str) -> Any:
        if not hasattr(self, "_displayers"):
            self._displayers = {c.field: _displayer(c) for c in self.spec.grid_columns()}
        return self._displayers.get(name, lambda v: v)

    # --- write -------------------------------------------------------------------------
    def _write(self, plan: Plan, targets: dict[str, Target]) -> dict:
        cells = sum(len(v) for by in plan.changes.values() for v in by.values())
        entry = GridSave(user_id=getattr(self.user, "id", None), username=getattr(self.user, "username", None),
                         sheet=self.spec.slug, rows=len(plan.changes), cells=cells)
        db.session.add(entry)
        db.session.flush()
        undo: list[tuple[Any, dict]] = []
        try:
            with audit_context("grid", batch_id=entry.id, username=entry.username, user_id=entry.user_id):
                for key, by_target in plan.changes.items():
                    undo.extend(self._apply(targets[key], by_target))
                db.session.flush()
            entry.before = json.dumps([{**meta, "id": obj.id, "version": obj.version} for obj, meta in undo])
            # read before the commit expires them (no reload of every record afterwards)
            versions = {key: {"v": t.row.version if t.row is not None else None,
                              "pv": t.parent.version if t.parent is not None else None}
                        for key, t in targets.items() if key in plan.changes}
            save_id, rows = entry.id, entry.rows
            db.session.commit()
        except (StaleDataError, IntegrityError) as exc:
            db.session.rollback()
            raise GridRefused(409, _("Enregistrement refusé : des lignes ont changé pendant "
                                     "l'enregistrement. Rechargez la grille.")) from exc
        return {"ok": True, "save_id": save_id, "rows": versions,
                "message": _("grid save %(n)s : %(r)s ligne(s), %(c)s cellule(s) enregistrée(s).",
                             n=save_id, r=rows, c=cells)}

    def _apply(self, target: Target, by_target: dict) -> list[tuple[Any, dict]]:
        out = []
        for where in ("parent", "row"):
            changed = by_target.get(where)
            if not changed:
                continue
            obj, created = target.obj(where), False
            if obj is None:
                obj, created = new_record(self.spec, target), True
                target.row = obj
            before = {} if created else {self.sheet.by_field[n].attribute:
                                         encode(getattr(obj, self.sheet.by_field[n].attribute)) for n in changed}
            for name, value in changed.items():
                self.applier._set(obj, self.sheet, name, value)  # same reference resolution as the import
            out.append((obj, {"table": type(obj).__tablename__, "created": created,
                              "values": before}))
        return out
