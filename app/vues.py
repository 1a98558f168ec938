"""Saved views: which pages have them, what a view's state may hold, how it is reapplied.

A page is named by a key: ``liste:<ModelView>`` for a list page (FAB's, or the structure
list), ``grille:<slug>`` for a grid page. A list's state is its query string (filters, sort,
rows per page; never a page number nor an id) and its visible columns; a grid's state is what
``window.bhasileGrid.getState()`` returns (columns, frozen columns, sort, filters, search).
Every state is checked here against its page before it is stored: unknown arguments, columns
or fields are refused, so a view can never carry anything but filters and columns — reopened
by another user, the page still applies that user's scope.
"""
from __future__ import annotations

import json
import re
from typing import Any, Optional
from urllib.parse import urlencode

from flask import current_app, g, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.extensions import db
from app.gate import may_change
from app.list_args import _views
from app.scope import condition_for, current_scope
from models.enums import Role
from models.vue import VueEnregistree as V

#: the argument of a list page that names its visible columns (comma-separated fields)
COLUMNS_ARG = "colonnes"
#: the argument naming the saved view a page was opened from (the toolbar shows it)
VIEW_ARG = "vue"
STRUCTURE_ARGS = {"q", "type", "region", "departement", "operateur", "bati", "public",
                  "places_min", "places_max", "fin_min", "fin_max", "sort", "dir", "psize"}
MAX_ARGS, MAX_VALUE = 80, 200
_FLT = re.compile(r"_flt_(\d)_(\w+)")


class BadState(ValueError):
    """A state this page cannot hold: the French message says why."""


# --- pages ----------------------------------------------------------------------------------
def _list_views() -> dict[str, Any]:
    """FAB's list pages, and the pages of their own (journal, documents) that name the query
    arguments a view of theirs keeps (``saved_view_args``)."""
    found = {name: v for name, v in _views().items()
             if "can_list" in (v.base_permissions or []) and getattr(v, "bhasile_area", None)}
    for view in current_app.appbuilder.baseviews:
        if getattr(view, "saved_view_args", None):
            found[type(view).__name__] = view
    return found


def _grids() -> dict[str, Any]:
    return {v.slug: v for v in current_app.appbuilder.baseviews if getattr(v, "grid_page", False)}


def page_target(page: str) -> Optional[tuple[str, Any]]:
    """(kind, view) of a page key the current user may open, else ``None`` (unknown page)."""
    if not isinstance(page, str):
        return None
    kind, _sep, name = page.partition(":")
    sm = current_app.appbuilder.sm
    if kind == "liste":
        view = _list_views().get(name)
        if view is not None and sm.has_access("can_list", view.class_permission_name):
            return kind, view
    elif kind == "grille":
        view = _grids().get(name)
        if view is not None and sm.has_access("can_grid_data", view.class_permission_name):
            return kind, view
    return None


def exportable(page: str) -> bool:
    """Can a view of ``page`` be exported (a grid, a FAB list, a page with its own export)?"""
    from flask_appbuilder import ModelView

    target = page_target(page)
    if target is None:
        return False
    kind, view = target
    return kind == "grille" or isinstance(view, ModelView) or bool(getattr(view, "saved_view_export", None))


def current_page() -> Optional[str]:
    """The page key of the request's page (a list or a grid), if it has saved views."""
    endpoint = request.endpoint or ""
    name, _sep, method = endpoint.partition(".")
    if method == "list" and name in _list_views():
        return f"liste:{name}"
    if method == "page":
        for slug, view in _grids().items():
            if type(view).__name__ == name:
                return f"grille:{slug}"
    return None


# --- columns of a list ------------------------------------------------------------------------
def visible_columns(view: Any, args: Any = None) -> list[str]:
    """The list columns shown (the ``colonnes`` argument, in the list's order; all without it
    or when it names none of them)."""
    args = request.args if args is None else args
    columns = list(getattr(view, "list_columns", None) or [])
    values = args.getlist(COLUMNS_ARG) if hasattr(args, "getlist") else [args.get(COLUMNS_ARG) or ""]
    wanted = {c for value in values for c in str(value or "").split(",") if c}
    chosen = [c for c in columns if c in wanted]
    if chosen and type(view).__name__ == "StructureView" and "code_dna" not in chosen:
        chosen.insert(0, "code_dna")   # the structure list's row header (the link to the fiche)
    return chosen or columns


# --- states -----------------------------------------------------------------------------------
def _text(value: Any, what: str) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise BadState(_("Valeur illisible pour « %(w)s ».", w=str(what)[:40]))
    text = str(value)
    if len(text) > MAX_VALUE:
        raise BadState(_("Valeur trop longue pour « %(w)s ».", w=str(what)[:40]))
    return text


def _list_arg_allowed(view: Any, key: str) -> bool:
    name = type(view).__name__
    if name == "StructureView":
        return key in STRUCTURE_ARGS
    if getattr(view, "saved_view_args", None):
        return key in view.saved_view_args
    match = _FLT.fullmatch(key)
    if match:
        return match[2] in (view.search_columns or [])
    return key in (f"_oc_{name}", f"_od_{name}", f"psize_{name}")


def clean_state(page: str, state: Any) -> dict:
    """The state of ``page`` as stored, or ``BadState``: only the filters, sort, page size and
    columns the page knows, values as short texts."""
    target = page_target(page)
    if target is None:
        raise LookupError(page)
    if not isinstance(state, dict):
        raise BadState(_("État de la vue illisible : un objet JSON est attendu."))
    kind, view = target
    return _clean_list(view, state) if kind == "liste" else _clean_grid(view, state)


def _clean_list(view: Any, state: dict) -> dict:
    pairs = state.get("args") or []
    if not isinstance(pairs, list) or len(pairs) > MAX_ARGS:
        raise BadState(_("Filtres de la vue illisibles."))
    args = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not isinstance(pair[0], str):
            raise BadState(_("Filtres de la vue illisibles."))
        key, value = pair[0], _text(pair[1], pair[0])
        if key in (COLUMNS_ARG, VIEW_ARG) or key.startswith("page"):
            continue   # the columns are kept apart, the page number is never part of a view
        if not _list_arg_allowed(view, key):
            raise BadState(_("Filtre « %(k)s » inconnu sur cette liste.", k=key[:40]))
        if value != "":
            args.append([key, value])
    columns = state.get("colonnes")
    if columns is None:
        return {"args": args}
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise BadState(_("Colonnes de la vue illisibles."))
    unknown = [c for c in columns if c not in (getattr(view, "list_columns", None) or [])]
    if unknown:
        raise BadState(_("Colonne « %(c)s » inconnue sur cette liste.", c=unknown[0][:40]))
    if not columns:
        raise BadState(_("Une vue montre au moins une colonne."))
    return {"args": args, "colonnes": [c for c in view.list_columns if c in columns]}


def _clean_grid(view: Any, state: dict) -> dict:
    fields = {c.field for c in view.spec.grid_columns()}

    def known(field: Any) -> str:
        if not isinstance(field, str) or field not in fields:
            raise BadState(_("Colonne « %(c)s » inconnue sur cette grille.", c=str(field)[:40]))
        return field

    out: dict[str, Any] = {"columns": [], "frozen": [], "sort": [], "filters": {}, "search": ""}
    columns = state.get("columns") or []
    if not isinstance(columns, list) or len(columns) > len(fields):
        raise BadState(_("Colonnes de la vue illisibles."))
    for col in columns:
        if not isinstance(col, dict):
            raise BadState(_("Colonnes de la vue illisibles."))
        entry = {"field": known(col.get("field")), "visible": col.get("visible") is not False}
        width = col.get("width")
        if isinstance(width, (int, float)) and not isinstance(width, bool) and 10 <= width <= 3000:
            entry["width"] = int(width)
        out["columns"].append(entry)
    frozen = state.get("frozen") or []
    if not isinstance(frozen, list):
        raise BadState(_("Colonnes figées de la vue illisibles."))
    out["frozen"] = [known(f) for f in frozen]
    sort = state.get("sort") or []
    if not isinstance(sort, list) or len(sort) > len(fields):
        raise BadState(_("Tri de la vue illisible."))
    for item in sort:
        if not isinstance(item, dict) or item.get("dir") not in ("asc", "desc"):
            raise BadState(_("Tri de la vue illisible."))
        out["sort"].append({"field": known(item.get("field")), "dir": item["dir"]})
    filters = state.get("filters") or {}
    if not isinstance(filters, dict):
        raise BadState(_("Filtres de la vue illisibles."))
    for field, value in filters.items():
        known(field)
        if isinstance(value, list):
            if len(value) > MAX_ARGS:
                raise BadState(_("Filtres de la vue illisibles."))
            out["filters"][field] = [_text(v, field) for v in value]
        elif value not in (None, ""):
            out["filters"][field] = _text(value, field)
    search = state.get("search") or ""
    out["search"] = _text(search, _("recherche")) if search else ""
    period = state.get("periode")
    if isinstance(period, dict):
        out["periode"] = {k: _text(v, k) for k, v in period.items() if k in ("annee", "debut", "fin")}
    return out


# --- reapplying -------------------------------------------------------------------------------
def open_url(vue: Any) -> Optional[str]:
    """The page of ``vue`` with its state applied (lists: in the query string; grids: the
    page's script applies it, named by ``vue``)."""
    target = page_target(vue.page)
    if target is None:
        return None
    kind, view = target
    state = json.loads(vue.etat or "{}")
    if kind == "liste":
        pairs = [tuple(p) for p in state.get("args", [])]
        if state.get("colonnes"):
            pairs.append((COLUMNS_ARG, ",".join(state["colonnes"])))
        pairs.append((VIEW_ARG, str(vue.id)))
        return url_for(f"{type(view).__name__}.list") + "?" + urlencode(pairs)
    pairs = list((state.get("periode") or {}).items()) + [(VIEW_ARG, str(vue.id))]
    return url_for(f"{type(view).__name__}.page") + "?" + urlencode(pairs)


def grid_args(state: dict) -> list[tuple[str, str]]:
    """The grid's data/export arguments of a grid state (filters and sort as ``/donnees``
    reads them, the period)."""
    pairs = list((state.get("periode") or {}).items())
    for i, (field, value) in enumerate((state.get("filters") or {}).items()):
        pairs += [(f"filter[{i}][field]", field),
                  (f"filter[{i}][value]", value[0] if isinstance(value, list) and value else value)]
    for i, item in enumerate(state.get("sort") or []):
        pairs += [(f"sort[{i}][field]", item["field"]), (f"sort[{i}][dir]", item["dir"])]
    return [(k, v) for k, v in pairs if isinstance(v, str)]


def visible_views(page: str) -> list:
    """The saved views of ``page`` the current user reads (``app.scope``'s rule), by name."""
    return list(db.session.scalars(select(V).where(V.page == page, condition_for(V, current_scope()))
                                   .order_by(V.nom, V.id)))


def role_default(page: str) -> Optional[Any]:
    """The default view of one of the current user's roles on ``page``, if an administrator set one."""
    scope = current_scope()
    if not scope.roles:
        return None
    return db.session.scalar(select(V).where(V.page == page, V.role_defaut.in_(sorted(scope.roles)),
                                             condition_for(V, scope)).order_by(V.updated_at.desc(), V.id))


def share_territory(scope: Any) -> dict[str, Optional[int]]:
    """The territory a user's view is shared with: their own (a national user: the nation;
    several régions or départements: the first)."""
    if scope.national:
        return {"region_id": None, "departement_id": None, "operateur_id": None}
    if scope.is_operateur:
        return {"region_id": None, "departement_id": None, "operateur_id": scope.operateur_id}
    if scope.region_ids:
        return {"region_id": min(scope.region_ids), "departement_id": None, "operateur_id": None}
    if scope.departement_ids:
        return {"region_id": None, "departement_id": min(scope.departement_ids), "operateur_id": None}
    return {"region_id": None, "departement_id": None, "operateur_id": None}


def apply_role_default():
    """Before a list or grid page opened bare (no argument): the role's default view, if any."""
    from flask import redirect
    from flask_login import current_user

    if request.method != "GET" or request.args:
        return None
    page = current_page()  # from the endpoint alone: static files and /healthz never load the user
    if page is None or not current_user.is_authenticated:
        return None
    vue = role_default(page)
    url = open_url(vue) if vue is not None else None
    return redirect(url) if url else None


def toolbar() -> Optional[dict]:
    """What the saved-views toolbar of the current page shows (``None``: no toolbar)."""
    page = current_page()
    if page is None or getattr(g, "user", None) is None:
        return None

    scope = current_scope()
    views = visible_views(page)
    active = request.args.get(VIEW_ARG, "")
    current = next((v for v in views if str(v.id) == active), None)
    return {"page": page, "views": views, "current": current,
            "current_state": json.loads(current.etat) if current is not None else None,
            "can_save": may_change(scope, "vue"), "is_admin": Role.ADMIN.value in scope.roles,
            "roles": [r.value for r in Role], "user_id": scope.user_id, "exportable": exportable(page),
            "columns": _chooser(page)}


def _chooser(page: str) -> Optional[list[tuple[str, str, bool]]]:
    """(field, label, shown) of a list's columns, for its column chooser."""
    target = page_target(page)
    if target is None or target[0] != "liste":
        return None
    view = target[1]
    if not getattr(view, "list_columns", None):
        return None
    shown = visible_columns(view)
    return [(c, str((view.label_columns or {}).get(c) or c), c in shown) for c in view.list_columns]


def init_app(app) -> None:
    app.before_request(apply_role_default)
    app.jinja_env.globals["bhasile_vues"] = toolbar
