"""Undo of a user's last grid save: the values it replaced are written back (and the records
it created removed), as long as nobody changed those records since.

An undo is a write like any other: each record is asked of the write gate (``app.gate``) with
the version the save left it at — still inside the user's territory today (404), the State's
fields, the domain rules, and nobody else's change since (409).
"""
from __future__ import annotations

import datetime as dt
import enum
import json
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Date, DateTime, Enum, Numeric, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.audit import audit_context
from app.extensions import db
from app.gate import Denial, Gate, status_of
from app.rules import RuleError
from app.scope import Scope
from models import ActiviteMensuelle, Adresse, AdresseAnnee, BudgetAnnee, PlacesAnnee, Structure
from models.base import utcnow
from models.grid import GridSave

MODELS = {m.__tablename__: m for m in (Structure, PlacesAnnee, BudgetAnnee, ActiviteMensuelle,
                                       Adresse, AdresseAnnee)}


class GridRefused(Exception):
    """A save (or undo) refused: the HTTP status and the JSON body telling the agent why."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.body = status, {"ok": False, "message": message, **extra}

def encode(value: Any) -> Any:
    """A stored value as JSON (dates ISO, decimals as text, enums by code)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def decode(model: type, attr: str, raw: Any) -> Any:
    """The value ``encode`` wrote, typed back for ``model.attr``."""
    if raw is None:
        return None
    kind = model.__table__.c[attr].type
    if isinstance(kind, DateTime):
        return dt.datetime.fromisoformat(raw)
    if isinstance(kind, Date):
        return dt.date.fromisoformat(raw)
    if isinstance(kind, Enum) and kind.enum_class is not None:
        return kind.enum_class(raw)
    if isinstance(kind, Numeric) and kind.asdecimal:
        return Decimal(raw)
    return raw


def last_save(user: Any, sheet: str) -> GridSave | None:
    """The user's last grid save of this page that was not undone."""
    return db.session.scalar(select(GridSave).where(
        GridSave.user_id == user.id, GridSave.sheet == sheet, GridSave.undone.is_(False))
        .order_by(GridSave.id.desc()).limit(1))


def _refusal(entry: GridSave, errors: list[RuleError]) -> tuple[int, str]:
    """The status and French message of an undo the gate refused (records of another
    territory are not described)."""
    statuses = {getattr(e, "status", 422) for e in errors}
    if 404 in statuses:
        return 404, _("Annulation impossible : des lignes de la grid save %(n)s sont hors de votre "
                      "périmètre. Rien n'a été changé.", n=entry.id)
    if statuses & {409, 428}:
        return 409, _("Annulation impossible : des lignes de la grid save %(n)s ont été modifiées "
                      "depuis. Rien n'a été changé.", n=entry.id)
    detail = " ; ".join(dict.fromkeys(e.message for e in errors))
    return status_of(errors), _("Annulation impossible : %(detail)s Rien n'a été changé.",
                                detail=detail)


def _checked(entry: GridSave, scope: Scope) -> list[tuple[Any, dict, dict]]:
    """Each record of ``entry`` with the values to write back, once the gate accepted them all;
    raises ``GridRefused`` with every refusal otherwise."""
    items = json.loads(entry.before or "[]")
    gate = Gate(scope, db.session)
    by_model: dict[type, list[int]] = {}
    for item in items:
        by_model.setdefault(MODELS[item["table"]], []).append(item["id"])
    for model, ids in by_model.items():
        gate.preload(model, ids, "write")
    out, errors = [], []
    for item in items:
        model = MODELS[item["table"]]
        obj = db.session.get(model, item["id"])
        if obj is None:
            errors.append(Denial(None, _("Enregistrement supprimé depuis."), 409))
            continue
        values = {attr: decode(model, attr, raw) for attr, raw in item["values"].items()}
        if item["created"]:  # removed: the right to delete it, and nobody changed it since
            errors += (gate.check_delete(model, obj)
                       or gate.check(model, obj, {}, item["version"], rules=False))
        else:
            errors += gate.check(model, obj, values, item["version"])
        out.append((obj, item, values))
    if errors:
        raise GridRefused(*_refusal(entry, errors))
    return out


def undo(entry: GridSave, scope: Scope) -> dict:
    """Write back what ``entry`` replaced, for ``scope``'s user; raises ``GridRefused`` (404,
    409, 403 or 422, nothing changed) when the gate refuses one of its records."""
    objs = _checked(entry, scope)
    try:
        with audit_context("grid_undo", batch_id=entry.id, username=entry.username, user_id=entry.user_id):
            for obj, item, values in reversed(objs):
                if item["created"]:
                    db.session.delete(obj)
                    continue
                for attr, value in values.items():
                    setattr(obj, attr, value)
            entry.undone, entry.undone_at = True, utcnow()
            db.session.commit()
    except (StaleDataError, IntegrityError) as exc:
        db.session.rollback()
        raise GridRefused(409, _("Annulation impossible : des lignes ont changé entre-temps.")) from exc
    return {"ok": True, "message": _("grid save %(n)s annulée : %(r)s ligne(s) rétablie(s).",
                                     n=entry.id, r=len(objs))}
