"""Accounts the administrator cannot get wrong: each role with its territory, and only its kind.

``territory_errors`` is THE rule (the user form, « Droits par territoire » and the command line
apply it): an Agent départemental has départements and no région, an Agent régional régions
and no département, an Opérateur its opérateur, a national role no territory at all; a Lecteur
reads a territory or the nation, never as an opérateur. ``init_history`` writes every change
of a user's roles or territory to the history (who changed what), whatever the path.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

from flask_babel import gettext as _
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from app.audit import current_actor
from models import BhasileUser, Changement, Departement, Operateur, Region
from models.base import utcnow
from models.enums import Role
from models.user import user_departement, user_region

NATIONAL = {Role.ADMIN.value, Role.CENTRAL.value}
_FIELDS = ("roles", "regions", "departements", "operateur")


def territory_errors(roles: Iterable[str], regions: bool, departements: bool,
                     operateur: bool) -> dict[str, str]:
    """The French refusals of an account, by form field (empty: the account is consistent).

    ``roles``: the names of its roles; the others: whether it has régions, départements, an
    opérateur."""
    names = set(roles)
    errors: dict[str, str] = {}
    if not names:
        return {"roles": _("Choisissez un rôle : sans rôle, le compte ne voit rien.")}
    agents = names & {Role.REGIONAL.value, Role.DEPARTEMENTAL.value, Role.OPERATEUR.value}
    if names & NATIONAL:
        if agents:
            errors["roles"] = _("Un rôle national ne se combine pas avec un rôle d'agent ou d'opérateur.")
        for name, present in (("regions", regions), ("departements", departements),
                              ("operateur", operateur)):
            if present and name not in errors:
                errors[name] = _("Un rôle national voit tout le territoire : laissez ce champ vide.")
        return errors
    if len(agents) > 1:
        return {"roles": _("Un compte n'a qu'un seul de ces rôles : Agent régional, Agent "
                           "départemental ou Opérateur.")}
    if Role.REGIONAL.value in names:
        if not regions:
            errors["regions"] = _("Un agent régional doit avoir au moins une région.")
        if departements:
            errors["departements"] = _("Un agent régional n'a pas de département : ses régions "
                                       "les couvrent déjà. Retirez-les.")
    elif Role.DEPARTEMENTAL.value in names:
        if not departements:
            errors["departements"] = _("Un agent départemental doit avoir au moins un département.")
        if regions:
            errors["regions"] = _("Un agent départemental n'a pas de région : elle lui donnerait "
                                  "toute la région. Retirez-la.")
    elif Role.OPERATEUR.value in names:
        if not operateur:
            errors["operateur"] = _("Un compte opérateur doit avoir son opérateur.")
        if regions:
            errors["regions"] = _("Un compte opérateur n'a pas de région : laissez ce champ vide.")
        if departements:
            errors["departements"] = _("Un compte opérateur n'a pas de département : laissez ce "
                                       "champ vide.")
    if operateur and Role.OPERATEUR.value not in names:
        errors["operateur"] = _("Seul un compte opérateur a un opérateur : laissez ce champ vide.")
    return errors


def errors_of(user: BhasileUser) -> dict[str, str]:
    """``territory_errors`` of an account as it stands."""
    return territory_errors([r.name for r in user.roles or []], bool(user.regions),
                            bool(user.departements), bool(user.operateur_id or user.operateur))


# -- history ------------------------------------------------------------------------------

def _texts(user: BhasileUser) -> dict[str, str]:
    """The account's roles and territory as the history writes them."""
    operateur = user.operateur.nom if user.operateur is not None else None
    return {"roles": ", ".join(sorted(r.name for r in user.roles or [])),
            "regions": ", ".join(sorted(r.nom for r in user.regions or [])),
            "departements": ", ".join(sorted(f"{d.code} {d.nom}" for d in user.departements or [])),
            "operateur": operateur or ""}


def _stored(session: Session, user_id: int) -> dict[str, str]:
    """The same, read from the database (the values before this flush)."""
    from flask_appbuilder.security.sqla.models import Role as RoleModel
    from flask_appbuilder.security.sqla.models import assoc_user_role

    conn = session.connection()
    roles = conn.scalars(select(RoleModel.name).join(assoc_user_role, assoc_user_role.c.role_id == RoleModel.id)
                         .where(assoc_user_role.c.user_id == user_id)).all()
    regions = conn.scalars(select(Region.nom).join(user_region, user_region.c.region_id == Region.id)
                           .where(user_region.c.user_id == user_id)).all()
    deps = conn.execute(select(Departement.code, Departement.nom)
                        .join(user_departement, user_departement.c.departement_id == Departement.id)
                        .where(user_departement.c.user_id == user_id)).all()
    operateur = conn.scalar(select(Operateur.nom).join(BhasileUser, BhasileUser.operateur_id == Operateur.id)
                            .where(BhasileUser.id == user_id))
    return {"roles": ", ".join(sorted(roles)), "regions": ", ".join(sorted(regions)),
            "departements": ", ".join(sorted(f"{c} {n}" for c, n in deps)), "operateur": operateur or ""}


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    before = session.info.setdefault("bhasile_accounts", {})
    for obj in session.dirty:
        if isinstance(obj, BhasileUser) and obj.id is not None and obj.id not in before:
            before[obj.id] = _stored(session, obj.id)


def _after_flush(session: Session, _context: Any) -> None:
    before: dict[int, dict] = session.info.pop("bhasile_accounts", {})
    users = [(o, "create") for o in session.new if isinstance(o, BhasileUser)]
    users += [(o, "update") for o in session.dirty if isinstance(o, BhasileUser) and o.id in before]
    if not users:
        return
    actor, now, rows = current_actor(), utcnow(), []
    for user, action in users:
        old = before.get(user.id, dict.fromkeys(_FIELDS, ""))
        new = _texts(user)
        for name in _FIELDS:
            if (old[name] or "") != (new[name] or ""):
                rows.append({"at": now, "user_id": actor.get("user_id"), "username": actor.get("username"),
                             "action": action, "entity": "ab_user", "entity_id": user.id,
                             "key": user.username, "field": name, "old_value": old[name] or None,
                             "new_value": new[name] or None, "origin": actor["origin"],
                             "batch_id": actor.get("batch_id"), "structure_id": None})
    if rows:
        session.connection().execute(insert(Changement.__table__), rows)


def init_history(session_class: Optional[type] = None) -> None:
    """Write roles and territory changes of accounts to the history (idempotent)."""
    target = session_class or Session
    if not event.contains(target, "before_flush", _before_flush):
        event.listen(target, "before_flush", _before_flush)
        event.listen(target, "after_flush", _after_flush)
