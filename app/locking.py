"""Optimistic locking: a save based on an outdated version of a record is refused.

Every edited record carries a ``version`` (``models.base.Versioned``). A form or an API call
sends back the version it loaded; when the record moved on meanwhile, the save is refused
and the user is shown what the other agents changed (old → new), read from the history.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from flask_babel import gettext as _
from sqlalchemy import literal_column, select

from app.extensions import db
from app.heures import paris_time
from app.labels import LABELS
from models import Changement

#: Written as a literal, not a bound parameter: the partial index ``ix_changement_entity_update``
#: (models/historique.py) serves only a query whose condition matches its own, as written.
UPDATES = Changement.action == literal_column("'update'")


@dataclass(frozen=True)
class Change:
    """One field changed by someone else since the version a user loaded."""

    at: Any
    username: Optional[str]
    field: str
    old_value: Optional[str]
    new_value: Optional[str]

    def describe(self) -> str:
        label = LABELS.get(self.field, self.field)
        return _("%(field)s : %(old)s → %(new)s (%(who)s, %(at)s)", field=label,
                 old=self.old_value or "∅", new=self.new_value or "∅",
                 who=self.username or "?", at=paris_time(self.at))


def parse_version(value: Any) -> Optional[int]:
    """The version a client sent (form field, JSON or If-Match header), or ``None``."""
    if value is None:
        return None
    text = str(value).strip().strip('"').removeprefix("W/").strip('"')
    return int(text) if text.isdigit() else None


def changes_since(item: Any, loaded_version: int, model: Optional[type] = None) -> list[Change]:
    """Field changes made to ``item`` (a record of ``model``, by default its class) after
    ``loaded_version`` (newest saves first)."""
    missed = int(item.version) - int(loaded_version)
    if missed <= 0:
        return []
    table = (model or type(item)).__tablename__
    times = db.session.scalars(
        select(Changement.at).where(Changement.entity == table, Changement.entity_id == item.id,
                                    UPDATES)
        .group_by(Changement.at).order_by(Changement.at.desc()).limit(missed)).all()
    if not times:
        return []
    rows = db.session.scalars(
        select(Changement).where(Changement.entity == table, Changement.entity_id == item.id,
                                 UPDATES, Changement.at.in_(times))
        .order_by(Changement.at.desc(), Changement.id)).all()
    return [Change(r.at, r.username, r.field, r.old_value, r.new_value) for r in rows if r.field]


def stale_message(item: Any, loaded_version: int, model: Optional[type] = None) -> str:
    """The French refusal shown when a save is based on an outdated version."""
    changes = changes_since(item, loaded_version, model)
    detail = " ; ".join(c.describe() for c in changes) or _("détail indisponible")
    return _("Enregistrement refusé : cette fiche a été modifiée par quelqu'un d'autre pendant "
             "votre saisie (%(detail)s). Rien n'a été écrasé ; rechargez la page pour repartir "
             "de la version actuelle.", detail=detail)


