"""A grid save: every changed cell read by the sheet's kinds, checked by the import's rules,
written all together or not at all, as one entry of the change history ("grid save N").

Order of the checks: the sheet's write right (403), the rows' scope (404), the versions the
rows were loaded at (409: someone else changed them), then every cell (422: parse errors,
read-only and State fields, domain rules, each on its cell with a French message).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.audit import audit_context
from app.extensions import db
from app.rules import validate as domain_rules
from app.scope import Scope
from app.sheets import Lookups
from app.sheets.kinds import CellError
from imports.apply import Applier
from imports.checks import can_write
from models import Adresse
from models.grid import GridSave

from .grid_specs import GridSpec, Period
from .grid_targets import Target, load_targets, new_record
from .grid_undo import encode
from .writes import state_field_errors

MAX_ROWS = 5000


class GridRefused(Exception):
    """A save (or undo) refused: the HTTP status and the JSON body telling the agent why."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.body = status, {"ok": False, "message": message, **extra}


@dataclass
class Plan:
    """What a save will write: typed values per row and target, and every cell error."""

    changes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)

    def error(self, target: Target, name: Optional[str], message: str) -> None:
        self.errors.append({"k": target.key, "row": target.label, "field": name, "message": message})


def _rows(payload: Any) -> list[dict]:
    rows = payload.get("rows") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("k"), str)
                                             and isinstance(r.get("values"), dict) for r in rows):
        raise GridRefused(400, _("Requête d'enregistrement illisible : rechargez la page."))
    if len(rows) > MAX_ROWS:
        raise GridRefused(400, _("Trop de lignes en un seul enregistrement (%(n)s au plus).", n=MAX_ROWS))
    return rows


def _conflicts(rows: list[dict], targets: dict[str, Target]) -> list[dict]:
    out = []
    for row in rows:
        target = targets[row["k"]]
        now = target.row.version if target.row is not None else None
        parent_now = target.parent.version if target.parent is not None else None
        if row.get("v") != now or ("pv" in row and target.parent is not None and row["pv"] != parent_now):
            out.append({"k": target.key, "row": target.label})
    return out


class BatchSave:
    """The save of one grid page by one user."""

    def __init__(self, spec: GridSpec, scope: Scope, period: Period, user: Any):
        self.spec, self.scope, self.period, self.user = spec, scope, period, user
        self.sheet = spec.sheet
        self.lookups: Optional[Lookups] = Lookups(db.session) if spec.slug == "structures" else None
        self.names: dict[str, dict[int, str]] = {}
        if self.lookups is not None:
            self.names = {"operateur_id": {i: n for i, n in self.lookups.operateurs.values()},
                          "departement_id": {i: c for c, (i, _r) in self.lookups.departements.items()}}

    def run(self, payload: Any) -> dict:
        """Check and write the rows of ``payload``; raises ``GridRefused`` with nothing written."""
        if self.scope.read_only or not can_write(self.scope, self.sheet.area):
            raise GridRefused(403, _("Votre rôle ne permet pas de modifier la grille %(t)s.", t=self.spec.title))
        rows = _rows(payload)
        targets = load_targets(self.spec, self.scope, self.period, [r["k"] for r in rows])
        missing = [r["k"] for r in rows if r["k"] not in targets]
        if missing:
            raise GridRefused(404, _("Lignes introuvables ou hors de votre périmètre : rien n'a été "
                                     "enregistré."), rows=missing)
        conflicts = _conflicts(rows, targets)
        if conflicts:
            raise GridRefused(409, _("Ces lignes ont été modifiées par quelqu'un d'autre depuis leur "
                                     "chargement : %(rows)s. Rien n'a été enregistré ; rechargez la "
                                     "grille.", rows=", ".join(c["row"] for c in conflicts)),
                              conflicts=conflicts)
        plan = Plan()
        for row in rows:
            self._plan_row(plan, targets[row["k"]], row["values"])
        if plan.errors:
            raise GridRefused(422, _("%(n)s erreur(s) : rien n'a été enregistré.", n=len(plan.errors)),
                              errors=plan.errors)
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

    def _plan_row(self, plan: Plan, target: Target, values: dict) -> None:
        by_target: dict[str, dict[str, Any]] = {}
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
                by_target.setdefault(column.target, {})[name] = value
        for where, changed in by_target.items():
            self._rules(plan, target, where, changed)
        if by_target:
            plan.changes[target.key] = by_target

    def _rules(self, plan: Plan, target: Target, where: str, changed: dict) -> None:
        model = Adresse if where == "parent" else self.sheet.model
        current = target.obj(where)
        for error in state_field_errors(model, changed, current) + domain_rules(model, changed, current):
            plan.error(target, error.field if error.field in changed or error.field in self.sheet.by_field
                       else None, error.message)
        dep = changed.get("departement")
        if dep and not self.scope.national:
            dep_id, region_id = self.lookups.departements[dep]
            if dep_id not in self.scope.departement_ids and region_id not in self.scope.region_ids:
                plan.error(target, "departement", _("Le département %(d)s est hors de votre périmètre.", d=dep))

    # --- write -------------------------------------------------------------------------
    def _write(self, plan: Plan, targets: dict[str, Target]) -> dict:
        cells = sum(len(v) for by in plan.changes.values() for v in by.values())
        entry = GridSave(user_id=getattr(self.user, "id", None), username=getattr(self.user, "username", None),
                         sheet=self.spec.slug, rows=len(plan.changes), cells=cells)
        db.session.add(entry)
        db.session.flush()
        applier = Applier(db.session, self.lookups)
        undo: list[tuple[Any, dict]] = []
        try:
            with audit_context("grid", batch_id=entry.id, username=entry.username, user_id=entry.user_id):
                for key, by_target in plan.changes.items():
                    undo.extend(self._apply(applier, targets[key], by_target))
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

    def _apply(self, applier: Applier, target: Target, by_target: dict) -> list[tuple[Any, dict]]:
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
                applier._set(obj, self.sheet, name, value)  # same reference resolution as the import
            out.append((obj, {"table": type(obj).__tablename__, "created": created,
                              "values": before}))
        return out
