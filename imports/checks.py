"""Compare the rows read from a file with the database: status, changed fields, rules, scope."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Optional

from sqlalchemy import select

from app.rules import validate as domain_rules
from app.roles import WRITE_AREAS
from app.scope import Scope, condition_for
from app.sheets import BY_NAME, Lookups, Sheet
from app.sheets.normalize import norm
from models import Convention, Departement, Operateur, Structure
from models.enums import Role

from .result import ImportResult, Record


def can_write(scope: Scope, area: str) -> bool:
    """May this scope's roles change records of this area?"""
    if Role.ADMIN.value in scope.roles:
        return True
    return any(area in WRITE_AREAS.get(role, ()) for role in Role if role.value in scope.roles)


def match_key(sheet: Sheet, key: tuple) -> tuple:
    """The form of a key used to find a stored row (names compared without case or accents)."""
    if sheet.name == "Opérateurs":
        return (norm(key[0]),) if key[0] else key
    return key


class Existing:
    """The stored rows of one sheet, by key: column values and (id, version) pairs."""

    def __init__(self, session: Any, sheet: Sheet):
        self.sheet = sheet
        self.fields = [c.field for c in sheet.columns if c.expr is not None]
        self.pos = {f: i for i, f in enumerate(self.fields)}
        key_pos = [self.pos[f] for f in sheet.key]
        self.rows: dict[tuple, tuple] = {}
        n = len(self.fields)
        for row in session.execute(sheet.select()):
            self.rows[match_key(sheet, tuple(row[i] for i in key_pos))] = tuple(row)
        self.n = n
        self.extra = None
        self.same = {c.field: c.kind.same for c in sheet.columns}
        self.required = [c for c in sheet.columns if c.required and c.field not in sheet.key]

    def get(self, key: tuple) -> Optional[tuple]:
        return self.rows.get(match_key(self.sheet, key))

    def value(self, row: tuple, field: str, session: Any) -> Any:
        if field in self.pos:
            return row[self.pos[field]]
        if self.sheet.extra is not None:
            if self.extra is None:
                ids = [r[self.n] for r in self.rows.values()]
                self.extra = self.sheet.extra(session, ids)
            return self.extra.get(row[self.n], {}).get(field)
        return None

    def ids(self, row: tuple) -> tuple:
        return tuple(row[self.n:])

    def any_with(self, field: str, value: Any) -> Optional[tuple]:
        """A stored row whose ``field`` is ``value`` (an address known under another year)."""
        if not hasattr(self, "_by"):
            self._by = {}
            for row in self.rows.values():
                self._by.setdefault(row[self.pos[field]], row)
        return self._by.get(value)


class Checker:
    """Everything a preview checks once the rows are read."""

    def __init__(self, session: Any, scope: Scope, lookups: Lookups):
        self.session, self.scope, self.lookups = session, scope, lookups
        self.existing: dict[str, Existing] = {}
        self.in_scope: dict[str, set] = {}
        if not scope.national:
            for name, model in (("structure", Structure), ("operateur", Operateur),
                                ("convention", Convention)):
                self.in_scope[name] = set(session.scalars(
                    select(model.id).where(condition_for(model, scope))))
            self.departements = set(session.scalars(select(Departement.id).where(
                Departement.id.in_(sorted(scope.departement_ids))
                | Departement.region_id.in_(sorted(scope.region_ids)))))

    def stored(self, sheet: Sheet) -> Existing:
        if sheet.name not in self.existing:
            self.existing[sheet.name] = Existing(self.session, sheet)
        return self.existing[sheet.name]

    def compare(self, records: list[Record], result: ImportResult) -> None:
        seen: dict[tuple, int] = {}
        for rec in records:
            sheet = rec.sheet
            ident = (sheet.name, match_key(sheet, rec.key))
            if not rec.errors and ident in seen and rec.key[0] != "nouvelle":
                rec.error(sheet.key[0], f"clé en double dans le fichier : déjà ligne {seen[ident]}",
                          rec.key[0])
            seen.setdefault(ident, rec.row)
            self._status(rec)
            if rec.status == "skip":
                continue
            if rec.errors:
                rec.status = "errors"
                result.errors.extend(rec.errors)
            result.counts[sheet.name][rec.status] += 1
            if rec.status != "unchanged":
                result.records.append(rec)

    def _status(self, rec: Record) -> None:
        stored = self.stored(rec.sheet)
        row = stored.get(rec.key) if not rec.errors or rec.key else None
        if row is None and rec.sheet.name == "Adresses" and rec.key[0] not in (None, "nouvelle"):
            parent = stored.any_with("id", rec.key[0])
            if parent is None:
                rec.error("id", f"adresse inconnue : ID {rec.key[0]} (laissez l'ID vide pour une "
                          "nouvelle adresse)", rec.key[0])
            else:
                rec.ids = (None, None) + stored.ids(parent)[2:]
        if row is None:
            if rec.derived and all(v is None for f, v in rec.values.items() if f not in rec.sheet.key):
                rec.status = "skip"
                return
            rec.status = "new"
            rec.changed = {f: (None, v) for f, v in rec.values.items()
                           if v is not None and not rec.sheet.by_field[f].read_only}
        else:
            rec.ids = stored.ids(row)
            pos, same, changed = stored.pos, stored.same, {}
            for f, new in rec.values.items():
                at = pos.get(f)
                old = row[at] if at is not None else stored.value(row, f, self.session)
                if not same[f](old, new):
                    changed[f] = (old, new)
            rec.changed = changed
            rec.status = "updated" if rec.changed else "unchanged"
        if rec.errors:
            return
        if rec.status != "unchanged":
            self._validate(rec, row, stored)
            return
        # nothing to write, but a row of another territory is still an error, never skipped
        message = self._scope_error(rec, row, stored, writing=False)
        if message:
            rec.error(rec.sheet.key[0], message, rec.key[0])

    def _validate(self, rec: Record, row: Optional[tuple], stored: Existing) -> None:
        sheet = rec.sheet
        for column in stored.required:
            if column.field in rec.values and rec.values[column.field] is None:
                rec.error(column.field, f"{column.label} obligatoire : la cellule ne peut pas être vide")
            elif row is None and column.field not in rec.values:
                rec.error(None, f"{column.label} obligatoire pour créer la ligne")
        message = self._scope_error(rec, row, stored)
        if message:
            rec.error(sheet.key[0], message, rec.key[0])
            return
        current = None
        if row is not None:
            current = SimpleNamespace(**dict(zip(stored.fields, row)))
        for error in domain_rules(sheet.model, dict(rec.values), current):
            field = error.field if error.field in sheet.by_field else None
            rec.error(field, error.message, rec.values.get(field) if field else None)

    def _scope_error(self, rec: Record, row: Optional[tuple], stored: Existing,
                     writing: bool = True) -> Optional[str]:
        """Why this row may not be imported by this user (None if it may). ``writing=False``
        for an unchanged row: only its territory counts, not the right to modify the sheet."""
        scope, sheet = self.scope, rec.sheet
        if scope.national:
            return None
        if writing and not can_write(scope, sheet.area):
            return f"votre rôle ne permet pas de modifier la feuille {sheet.name}"
        outside = "ligne hors de votre périmètre"
        if sheet.name == "Opérateurs":
            return outside if row is not None and stored.ids(row)[0] not in self.in_scope["operateur"] else None
        if sheet.name == "Conventions":
            if row is not None and stored.ids(row)[0] not in self.in_scope["convention"]:
                return outside
            if not writing:  # a CPOM seen by the user may cover structures of other territories
                return None
            return self._codes_outside(rec.values.get("codes_dna") or ())
        code = rec.values.get("code_dna")
        if row is None and sheet.name == "Adresses" and rec.ids:
            row = stored.any_with("id", rec.key[0])  # the address, known under another year
        if row is not None:
            stored_code = stored.value(row, "code_dna", self.session)
            outside = self._codes_outside((stored_code,)) if stored_code != code else None
            if outside:
                return outside
            code = code or stored_code
        if sheet.name == "Structures":
            if row is not None and stored.ids(row)[0] not in self.in_scope["structure"]:
                return outside
            if not writing:  # the structure stays where it is
                return None
            dep = rec.values.get("departement")
            if dep and self.lookups.departements[dep][0] not in self.departements:
                return f"le département {dep} est hors de votre périmètre"
            return None
        return self._codes_outside((code,) if code else ())

    def _codes_outside(self, codes) -> Optional[str]:
        for code in codes:
            found = self.lookups.structures.get(code)
            if found is None:
                if code in self.lookups.new_structures:
                    continue
                return f"structure inconnue : {code}"
            if found[0] not in self.in_scope["structure"]:
                return f"structure {code} hors de votre périmètre"
        return None


__all__ = ["BY_NAME", "Checker", "Existing", "can_write", "match_key"]
