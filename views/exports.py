"""Exports: the "Classeur complet" of the user's territory, and the "Exporter" button of every
list view, which writes exactly that view's rows (filters, search, sort, territory)."""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from typing import Any, Optional

from flask import abort, after_this_request, current_app, g, request, send_file, url_for
from flask_appbuilder import BaseView, ModelView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_appbuilder.urltools import get_filter_args, get_order_args
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.scope import current_scope
from app.sheets import SHEETS, Sheet

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sheet_for(view: ModelView) -> Optional[Sheet]:
    """The canonical sheet holding this view's records, if any."""
    model = view.datamodel.obj
    for sheet in SHEETS:
        if sheet.model is model or (sheet.name == "Adresses" and model.__name__ == "Adresse"):
            return sheet
    return None


def _send(path: str, name: str):
    @after_this_request
    def _cleanup(response):
        try:
            os.unlink(path)
        except OSError:
            pass
        return response

    return send_file(path, mimetype=XLSX, as_attachment=True, download_name=name)


def _temp() -> str:
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="bhasile-export-")
    os.close(handle)
    return path


def _view_ids(view: ModelView) -> tuple[list[int], dict, Any]:
    """Primary keys of the rows the list view shows, all pages, in its order."""
    if hasattr(view, "export_ids"):  # a list page with its own filters (the structure list)
        filters = {k: v for k, v in request.args.items(multi=False) if k not in ("page", "psize")}
        return view.export_ids(), filters, (request.args.get("sort", ""), request.args.get("dir", ""))
    name = view.__class__.__name__
    order_column, order_direction = get_order_args().get(name) or view.base_order or ("", "")
    get_filter_args(view._filters)
    joined = view._filters.get_joined_filters(view._base_filters)
    model = view.datamodel.obj
    query = view.datamodel.apply_all(db.session.query(model), joined, order_column, order_direction)
    ids = [row[0] for row in query.with_entities(model.id)]
    filters = {k: v for k, v in request.args.items() if k.startswith("_flt_")}
    return ids, filters, (order_column, order_direction)


class ExportView(BaseView):
    """Downloads of BHasile data as .xlsx workbooks, limited to the user's territory."""

    route_base = "/exporter"
    bhasile_area = "structure"
    default_view = "workbook"
    base_permissions = ["can_export"]

    @expose("/classeur.xlsx")
    @has_access
    @permission_name("export")
    def workbook(self):
        from exports.workbook import export_workbook

        path = _temp()
        export_workbook(db.session, path, current_scope(), user=g.user.username)
        return _send(path, f"bhasile-classeur-{dt.date.today():%Y-%m-%d}.xlsx")

    @expose("/vue/<view_name>/")
    @has_access
    @permission_name("export")
    def view(self, view_name: str):
        target = next((v for v in self.appbuilder.baseviews
                       if v.__class__.__name__ == view_name and isinstance(v, ModelView)), None)
        if target is None or not self.appbuilder.sm.has_access("can_list", target.class_permission_name):
            abort(404)
        ids, filters, sort = _view_ids(target)
        path = _temp()
        sheet = sheet_for(target)
        if sheet is not None:
            from exports.workbook import export_view

            export_view(db.session, path, sheet, current_scope(), ids, g.user.username, filters, sort)
        else:
            from exports.generic import export_list

            export_list(db.session, path, target, ids, g.user.username, filters, sort)
        title = str(getattr(target, "list_title", "") or view_name)
        return _send(path, f"{title}-{dt.date.today():%Y-%m-%d}.xlsx")


def export_url() -> Optional[str]:
    """URL of the current list view's export (same arguments), for the Exporter button."""
    endpoint = request.endpoint or ""
    if not endpoint.endswith(".list"):
        return None
    return url_for("ExportView.view", view_name=endpoint.split(".")[0], **request.args)


MENU_ORDER = 79


def register(add, appbuilder) -> None:
    add(ExportView, "Classeur complet", _l("Classeur complet (export)"), "Echanges",
        _l("Import / export"), icon="fa-download")
    current_app.jinja_env.globals["bhasile_export_url"] = export_url
