"""One query per request for the signed-in user's permissions.

FAB checks every menu entry, button and API permission with its own database query
(``exist_permission_on_roles``): a structure page made ~70 such queries. Here the first check
of a request loads every (view, permission) pair of the user's roles at once, and the other
checks of that request read that set. Nothing is kept between requests, so a change of
permissions applies from the next page on, as before.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Flask, current_app, g, has_request_context
from flask_appbuilder.security.sqla.models import assoc_permissionview_role as assoc


def _pairs(sm: Any, role_ids: tuple[int, ...]) -> frozenset[tuple[str, str]]:
    pv, perm, view = sm.permissionview_model, sm.permission_model, sm.viewmenu_model
    rows = (sm.session.query(view.name, perm.name).select_from(pv)
            .join(assoc, assoc.c.permission_view_id == pv.id)
            .join(perm, pv.permission_id == perm.id)
            .join(view, pv.view_menu_id == view.id)
            .filter(assoc.c.role_id.in_(role_ids)).all())
    return frozenset((v, p) for v, p in rows)


def _cached(sm: Any, original: Callable[..., bool]) -> Callable[..., bool]:
    def exist_permission_on_roles(view_name: str, permission_name: str, role_ids) -> bool:
        if not has_request_context():
            return original(view_name, permission_name, role_ids)
        key = tuple(sorted(role_ids))
        cache = g.setdefault("_bh_permissions", {})
        if key not in cache:
            cache[key] = _pairs(sm, key)
        return (view_name, permission_name) in cache[key]

    return exist_permission_on_roles


def _install() -> None:
    sm = current_app.appbuilder.sm
    if not getattr(sm, "_bh_permission_cache", False):
        sm.exist_permission_on_roles = _cached(sm, sm.exist_permission_on_roles)
        sm._bh_permission_cache = True


def init_app(app: Flask) -> None:
    app.before_request(_install)
