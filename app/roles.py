"""The six roles and their permissions, derived from each view's ``bhasile_area``.

A view declares the area it belongs to (``structure``, ``places``, ``convention``...);
roles grant read or write by area. FAB's security views have no area: only the
Administrateur (FAB's admin role) reaches them.
"""
from __future__ import annotations

from flask_appbuilder import AppBuilder

from models.enums import Role

READ_PERMISSIONS = {"can_list", "can_show", "can_get", "can_info", "can_export", "can_download",
                    "can_this_form_get", "menu_access", "can_fiche", "can_grid_data",
                    "can_dashboard", "can_userinfo", "resetmypassword", "userinfoedit"}
ALL_AREAS = {"structure", "operateur", "places", "budget", "activite", "adresse", "convention",
             "qualite", "document", "contact", "historique", "import", "reference", "dashboard",
             "campagne", "transmission", "vue"}
#: Areas of user data (a user's saved views): even a read-only role writes its own.
USER_DATA_AREAS = {"vue"}
#: Areas each role may change (read is granted on every area to every role).
WRITE_AREAS: dict[Role, set[str]] = {
    Role.CENTRAL: ALL_AREAS - {"reference"},
    Role.REGIONAL: ALL_AREAS - {"reference", "historique"},
    Role.DEPARTEMENTAL: ALL_AREAS - {"reference", "historique"},
    Role.LECTEUR: set(USER_DATA_AREAS),
    Role.OPERATEUR: {"places", "budget", "activite", "adresse", "document", "contact",
                     "transmission", *USER_DATA_AREAS},
}
#: The area of each table: the right a write needs (``may_write``).
MODEL_AREAS: dict[str, str] = {
    "structure": "structure", "operateur": "operateur", "places_annee": "places",
    "budget_annee": "budget", "activite_mensuelle": "activite", "adresse": "adresse",
    "adresse_annee": "adresse", "contact": "contact", "controle": "qualite",
    "evaluation": "qualite", "eig": "qualite", "convention": "convention",
    "convention_structure": "convention", "document": "document", "campagne": "campagne",
    "tache": "campagne", "tache_commentaire": "transmission", "vue_enregistree": "vue",
    "dialogue_budgetaire": "budget", "dialogue_ligne": "budget", "plafond_cout": "reference",
}
#: Areas a role may not even read.
HIDDEN_AREAS: dict[Role, set[str]] = {
    Role.REGIONAL: {"historique"},
    Role.DEPARTEMENTAL: {"historique"},
    Role.LECTEUR: {"historique", "import"},
    Role.OPERATEUR: {"historique"},
}
#: Security views every signed-in user needs (own profile, own password). ``USER_VIEW`` stands
#: for the user screen's permission name (BhasileUserDBModelView, or its ProConnect twin).
USER_VIEW = "<user view>"
SELF_SERVICE = {(USER_VIEW, "can_userinfo"), (USER_VIEW, "resetmypassword"),
                (USER_VIEW, "userinfoedit"), ("ResetMyPasswordView", "can_this_form_get"),
                ("ResetMyPasswordView", "can_this_form_post"), ("UserInfoEditView", "can_this_form_get"),
                ("UserInfoEditView", "can_this_form_post")}


def may_write(scope, area: str) -> bool:
    """May this scope's roles change records of this area?"""
    if Role.ADMIN.value in scope.roles:
        return True
    return any(area in WRITE_AREAS.get(role, ()) for role in Role if role.value in scope.roles)


def self_service(appbuilder: AppBuilder) -> set[tuple[str, str]]:
    """SELF_SERVICE with the name this app's user screen has."""
    user_view = appbuilder.sm.user_view.class_permission_name
    return {(user_view if view == USER_VIEW else view, perm) for view, perm in SELF_SERVICE}


def _area_of(view) -> str | None:
    return getattr(view, "bhasile_area", None)


def sync_roles(appbuilder: AppBuilder) -> None:
    """Create or update the six roles and their permissions (idempotent)."""
    sm = appbuilder.sm
    # Roles first: FAB grants every new permission to the admin role while adding it.
    admin = sm.find_role(Role.ADMIN.value) or sm.add_role(Role.ADMIN.value)
    for role in Role:
        sm.find_role(role.value) or sm.add_role(role.value)
    appbuilder.add_permissions(update_perms=True)
    grants: dict[Role, set[tuple[str, str]]] = {role: self_service(appbuilder) for role in Role
                                                 if role != Role.ADMIN}
    menu_areas: dict[str, str] = {}
    for view in appbuilder.baseviews:
        area = _area_of(view)
        if area is None:
            continue
        name = view.class_permission_name
        for role in grants:
            if area in HIDDEN_AREAS.get(role, set()):
                continue
            for perm in view.base_permissions or []:
                if perm in READ_PERMISSIONS or area in WRITE_AREAS[role]:
                    grants[role].add((name, perm))
        menu_areas[name] = area
    for item in _menu_items(appbuilder):
        area = _menu_area(item, appbuilder)
        for role in grants:
            if area is not None and area not in HIDDEN_AREAS.get(role, set()):
                grants[role].add((item, "menu_access"))
    for role, wanted in grants.items():
        role_obj = sm.find_role(role.value) or sm.add_role(role.value)
        pvs = []
        for view_name, perm in sorted(wanted):
            pv = sm.find_permission_view_menu(perm, view_name)
            if pv is not None:
                pvs.append(pv)
        role_obj.permissions = pvs
    # The admin holds every permission.
    admin.permissions = list(sm.session.query(sm.permissionview_model).all())
    sm.session.commit()


def _menu_items(appbuilder: AppBuilder) -> list[str]:
    names = []
    for item in appbuilder.menu.get_list():
        names.append(item.name)
        names.extend(child.name for child in item.childs or [] if child.name != "-")
    return names


def _menu_area(name: str, appbuilder: AppBuilder) -> str | None:
    areas = getattr(appbuilder, "bhasile_menu_areas", {})
    return areas.get(name)
