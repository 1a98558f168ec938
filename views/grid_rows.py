"""Adding and deleting grid rows, through the one write gate (``app.gate``).

Adding: a structure (the Structures sheet's required cells, read by its kinds as an import
reads them), an address (its structure and the address's own cells), or the record of the
period for a structure (a year of Places or Budgets, a month of Activité). Deleting: the
structure, the address, or the record of the period behind a row. Every write is described
to the gate, which alone says whether the role, the territory, the State's fields, the
domain rules and the version allow it; nothing is written when it refuses, and the answer
never names a record of another territory.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from app.audit import audit_context
from app.extensions import db
from app.gate import Gate, may_change, status_of
from app.scope import Scope
from app.sheets import Lookups
from app.sheets.kinds import CellError
from imports.apply import Applier
from models import Adresse, Structure

from .grid_save import GridRefused
from .grid_specs import GridSpec, Period
from .grid_targets import Target, load_targets

MAX_DELETE = 500
#: Cells the add form shows besides the required ones (Structures).
_STRUCTURE_EXTRA = ("nom", "operateur", "code_postal", "commune")


def add_fields(spec: GridSpec) -> list[str]:
    """The fields the add form asks for: the record's own required cells and a few useful ones."""
    sheet = spec.sheet
    if spec.slug == "structures":
        return [c.field for c in sheet.columns if not c.read_only
                and (c.required or c.field in _STRUCTURE_EXTRA)]
    if spec.slug == "adresses":
        return [c.field for c in sheet.columns if c.target == "parent" and not c.read_only]
    return ["code_dna"]


def _values(payload: Any) -> dict:
    values = payload.get("values") if isinstance(payload, dict) else None
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise GridRefused(400, _("Requête illisible : rechargez la page."))
    return values


def _refuse(errors: list, fields: dict[str, str]) -> None:
    """Raise the gate's refusal: 404 with nothing said of the record, else each on its cell."""
    status = status_of(errors)
    if status == 404:
        raise GridRefused(404, _("Enregistrement introuvable ou hors de votre périmètre : rien n'a été "
                                 "enregistré."))
    body = [{"k": None, "row": _("nouvelle ligne"), "field": fields.get(e.field, e.field), "message": e.message}
            for e in errors]
    raise GridRefused(status if status in (403, 409, 428) else 422,
                      _("%(n)s erreur(s) : rien n'a été enregistré.", n=len(body)), errors=body)


class RowAdd:
    """The creation of one row by one user."""

    def __init__(self, spec: GridSpec, scope: Scope, period: Period, user: Any):
        self.spec, self.scope, self.period, self.user = spec, scope, period, user
        self.sheet = spec.sheet
        self.lookups = Lookups(db.session)
        self.applier = Applier(db.session, self.lookups)

    def run(self, payload: Any) -> dict:
        area = "adresse" if self.spec.slug == "adresses" else self.sheet.area
        if not may_change(self.scope, area):
            raise GridRefused(403, _("Votre rôle ne permet pas de modifier la grille %(t)s.", t=self.spec.title))
        raw = _values(payload)
        wanted = add_fields(self.spec)
        cells, errors = {}, []
        for name in wanted:
            column = self.sheet.by_field[name]
            text = raw.get(name)
            try:
                value = None if text is None or str(text).strip() == "" else column.kind.clean(str(text), self.lookups)
            except CellError as exc:
                errors.append({"k": None, "row": _("nouvelle ligne"), "field": name, "message": str(exc)})
                continue
            if value is None and column.required:
                errors.append({"k": None, "row": _("nouvelle ligne"), "field": name,
                               "message": _("%(c)s obligatoire : la cellule ne peut pas être vide.", c=column.label)})
                continue
            if value is not None:
                cells[name] = value
        if errors:
            raise GridRefused(422, _("%(n)s erreur(s) : rien n'a été enregistré.", n=len(errors)), errors=errors)
        if self.spec.slug == "structures":
            return self._create(Structure, cells, {})
        if self.spec.slug == "adresses":
            return self._create(Adresse, cells, {})
        sid = self.lookups.structures[cells["code_dna"]][0]
        target = Target(str(sid), cells["code_dna"], sid, month=self.period.start, year=self.period.year)
        extra = target.creation()
        found = db.session.scalar(select(self.sheet.model.id).where(*[
            getattr(self.sheet.model, k) == v for k, v in extra.items()]))
        gate = Gate(self.scope, db.session)
        denials = gate.check(self.sheet.model, None, extra)
        if denials:
            _refuse(denials, {"structure_id": "code_dna"})
        if found is not None:
            raise GridRefused(422, _("Cette ligne existe déjà pour cette période."),
                              errors=[{"k": None, "row": _("nouvelle ligne"), "field": "code_dna",
                                       "message": _("Cette ligne existe déjà pour cette période.")}])
        return self._create(self.sheet.model, {}, extra)

    def _create(self, model: type, cells: dict, extra: dict) -> dict:
        """Ask the gate about the new record, then write it (or nothing)."""
        attrs = {self.sheet.by_field[n].attribute: self.applier._reference(self.sheet.by_field[n].attribute, v)
                 for n, v in cells.items()}
        values = {**extra, **attrs}
        fields = {self.sheet.by_field[n].attribute: n for n in cells}
        denials = Gate(self.scope, db.session).check(model, None, values)
        if denials:
            _refuse(denials, fields)
        if model is Structure and db.session.scalar(select(Structure.id).where(
                Structure.code_dna == cells.get("code_dna"))) is not None:
            raise GridRefused(422, _("1 erreur(s) : rien n'a été enregistré."), errors=[{
                "k": None, "row": _("nouvelle ligne"), "field": "code_dna",
                "message": _("Ce code DNA est déjà utilisé.")}])
        try:
            with audit_context("grid", username=getattr(self.user, "username", None),
                               user_id=getattr(self.user, "id", None)):
                record = model(**values)
                db.session.add(record)
                db.session.flush()
                ident = record.id
            db.session.commit()
        except (IntegrityError, StaleDataError):
            db.session.rollback()
            raise GridRefused(409, _("Ajout refusé : la ligne existe déjà ou ses liens ont changé. "
                                     "Rechargez la grille.")) from None
        return {"ok": True, "id": ident, "message": _("Ligne ajoutée.")}


def _record(spec: GridSpec, target: Target) -> tuple[type, Any, str]:
    """What deleting a row deletes: the structure, the address, or the record of the period."""
    if spec.slug == "structures":
        return Structure, target.row, "v"
    if spec.slug == "adresses":
        return Adresse, target.parent, "pv"
    return spec.sheet.model, target.row, "v"


def delete_rows(spec: GridSpec, scope: Scope, period: Period, user: Any, payload: Any) -> dict:
    """Delete the records behind the rows of ``payload`` (``rows``: ``[{k, v, pv}]``), all or none."""
    area = "adresse" if spec.slug == "adresses" else spec.sheet.area
    if not may_change(scope, area):
        raise GridRefused(403, _("Votre rôle ne permet pas de supprimer ces données."))
    rows = payload.get("rows") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) and isinstance(r.get("k"), str)
                                                        for r in rows):
        raise GridRefused(400, _("Requête illisible : rechargez la page."))
    if len(rows) > MAX_DELETE:
        raise GridRefused(400, _("Trop de lignes en une seule suppression (%(n)s au plus).", n=MAX_DELETE))
    targets = load_targets(spec, period, [r["k"] for r in rows])
    gate = Gate(scope, db.session)
    doomed, errors, empty = [], [], []
    for row in rows:
        target = targets.get(row["k"])
        if target is None or not gate.inside(*target.anchor(), "write"):
            errors.append(None)
            continue
        model, obj, version = _record(spec, target)
        if obj is None:
            empty.append(target.label)
            continue
        denials = gate.check_delete(model, obj) or gate.check(model, obj, {}, row.get(version), rules=False)
        if denials:
            errors.extend(denials)
            continue
        doomed.append(obj)
    if any(e is None or getattr(e, "status", 422) == 404 for e in errors):
        raise GridRefused(404, _("Lignes introuvables ou hors de votre périmètre : rien n'a été supprimé."))
    if errors:
        status = status_of(errors)
        raise GridRefused(status if status in (403, 409, 428) else 422,
                          " ; ".join(dict.fromkeys(e.message for e in errors)))
    if empty and not doomed:
        raise GridRefused(422, _("Rien à supprimer pour cette période : %(rows)s.", rows=", ".join(empty)))
    try:
        with audit_context("grid", username=getattr(user, "username", None), user_id=getattr(user, "id", None)):
            for obj in doomed:
                db.session.delete(obj)
            db.session.flush()
        db.session.commit()
    except (IntegrityError, StaleDataError):
        db.session.rollback()
        raise GridRefused(409, _("Suppression impossible : des données y sont encore rattachées ou "
                                 "la ligne a changé entre-temps. Rien n'a été supprimé.")) from None
    except SQLAlchemyError:
        db.session.rollback()
        raise
    return {"ok": True, "message": _("%(n)s ligne(s) supprimée(s).", n=len(doomed))}


__all__ = ["RowAdd", "add_fields", "delete_rows"]
