"""Undo of a user's last grid save: the values it replaced are written back (and the records
it created removed), as long as nobody changed those records since."""
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
from models import ActiviteMensuelle, Adresse, AdresseAnnee, BudgetAnnee, PlacesAnnee, Structure
from models.base import utcnow
from models.grid import GridSave

MODELS = {m.__tablename__: m for m in (Structure, PlacesAnnee, BudgetAnnee, ActiviteMensuelle,
                                       Adresse, AdresseAnnee)}


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


def undo(entry: GridSave) -> dict:
    """Write back what ``entry`` replaced; raises ``GridRefused`` (409) if records moved on."""
    from .grid_save import GridRefused

    items = json.loads(entry.before or "[]")
    objs = []
    for item in items:
        model = MODELS[item["table"]]
        obj = db.session.get(model, item["id"])
        if obj is None or obj.version != item["version"]:
            raise GridRefused(409, _("Annulation impossible : des lignes de la grid save %(n)s ont été "
                                     "modifiées depuis. Rien n'a été changé.", n=entry.id))
        objs.append((obj, item))
    try:
        with audit_context("grid_undo", batch_id=entry.id, username=entry.username, user_id=entry.user_id):
            for obj, item in reversed(objs):
                if item["created"]:
                    db.session.delete(obj)
                    continue
                for attr, raw in item["values"].items():
                    setattr(obj, attr, decode(type(obj), attr, raw))
            entry.undone, entry.undone_at = True, utcnow()
            db.session.commit()
    except (StaleDataError, IntegrityError) as exc:
        db.session.rollback()
        raise GridRefused(409, _("Annulation impossible : des lignes ont changé entre-temps.")) from exc
    return {"ok": True, "message": _("grid save %(n)s annulée : %(r)s ligne(s) rétablie(s).",
                                     n=entry.id, r=len(objs))}
