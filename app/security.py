"""Security manager: FAB's, with BHasile users (scope) and logins written to the history."""
from __future__ import annotations

import logging

from flask import g, has_request_context
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import assoc_permissionview_role
from flask_appbuilder.security.views import UserDBModelView
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from models import BhasileUser

_SCOPE_FIELDS = ["regions", "departements", "operateur"]


class BhasileUserDBModelView(UserDBModelView):
    """The user admin screen, where admins also set a user's territory; « Mon compte » for all."""

    list_columns = ["first_name", "last_name", "username", "email", "active", "roles",
                    "regions", "departements", "operateur"]
    add_columns = UserDBModelView.add_columns + _SCOPE_FIELDS
    edit_columns = ["first_name", "last_name", "username", "active", "email", "roles",
                    "groups"] + _SCOPE_FIELDS
    show_fieldsets = UserDBModelView.show_fieldsets + [
        (_l("Périmètre"), {"fields": _SCOPE_FIELDS, "expanded": True})
    ]
    user_show_fieldsets = UserDBModelView.user_show_fieldsets + [
        (_l("Périmètre"), {"fields": _SCOPE_FIELDS, "expanded": True})
    ]
    label_columns = {**UserDBModelView.label_columns, "regions": _l("Régions"),
                     "departements": _l("Départements"), "operateur": _l("Opérateur")}
    description_columns = {
        **UserDBModelView.description_columns,
        "regions": _l("Agent régional : les régions qu'il suit."),
        "departements": _l("Agent départemental : les départements qu'il suit."),
        "operateur": _l("Compte opérateur : l'opérateur dont il voit les structures."),
    }


class BhasileSecurityManager(SecurityManager):
    user_model = BhasileUser
    userdbmodelview = BhasileUserDBModelView

    def exist_permission_on_roles(self, view_name: str, permission_name: str, role_ids) -> bool:
        """FAB asks once per menu entry and link; answer from the roles' permissions, loaded
        once per request (a page used to cost one query per entry)."""
        if not has_request_context():
            return super().exist_permission_on_roles(view_name, permission_name, role_ids)
        key = tuple(sorted(role_ids))
        cached = g.get("_bh_permissions")
        if cached is None or cached[0] != key:
            cached = (key, self._role_permissions(role_ids))
            g._bh_permissions = cached
        return (view_name, permission_name) in cached[1]

    def _role_permissions(self, role_ids) -> set[tuple[str, str]]:
        pv, link = self.permissionview_model, assoc_permissionview_role
        rows = self.session.execute(
            select(self.viewmenu_model.name, self.permission_model.name)
            .select_from(pv).join(link, link.c.permission_view_id == pv.id)
            .join(self.permission_model, self.permission_model.id == pv.permission_id)
            .join(self.viewmenu_model, self.viewmenu_model.id == pv.view_menu_id)
            .where(link.c.role_id.in_(list(role_ids)))).all()
        return {(view, perm) for view, perm in rows}

    def on_user_login(self, user) -> None:
        self._record_login(user, "login")

    def on_user_login_failed(self, user) -> None:
        self._record_login(user, "login_failed")

    def _record_login(self, user, action: str) -> None:
        from app.audit import record_event

        try:
            record_event(self.session, action, "ab_user", user.username, user.username, user.id)
            self.session.commit()
        except Exception:  # the history must never block a login
            logging.getLogger(__name__).exception("login event not recorded")
            self.session.rollback()
