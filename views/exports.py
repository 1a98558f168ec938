"""Exports: the "Classeur complet" of the user's territory, and the "Exporter" button of every
list view, which writes exactly that view's rows (filters, search, sort, territory)."""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from typing import Any, Optional

from flask import (abort, after_this_request, current_app, g, jsonify, redirect, request,
                   send_file, url_for)
from flask_appbuilder import BaseView, ModelView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_appbuilder.urltools import get_filter_args, get_order_args
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.jinja import fr_number
from app.jobs import paris
from app.scope import current_scope
from app.sheets import SHEETS, Sheet
from app.documents.storage import file_store
from app.vues import COLUMNS_ARG, visible_columns
from exports import jobs
from exports.generic import export_list
from exports.jobs import owned_job, recent_jobs, scope_unchanged, workbook_rows
from exports.workbook import export_view
from models.export import DONE, EXPIRED, FAILED

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sheet_for(view: ModelView) -> Optional[Sheet]:
    """The canonical sheet holding this view's records, if any."""
    model = view.datamodel.obj
    for sheet in SHEETS:
        if model in (sheet.model, sheet.parent):
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


def _sync_limit() -> int:
    return int(current_app.config.get("BHASILE_EXPORT_SYNC_MAX_ROWS", 20000))


def _background(view: BaseView, kind: str, title: str, params: dict, rows_total: int):
    """Hand the export to a worker thread and show its progress page.

    A GET only asks for confirmation (how many rows, where the file will be): starting a job
    writes to the database, so it takes a POST with the CSRF token like every other change.
    """
    if request.method != "POST":
        return view.render_template("bhasile/exports/confirm.html", file_title=title,
                                    rows_total=rows_total, action=request.full_path.rstrip("?"))

    params = {**params, "scope": jobs.scope_params(current_scope()), "user": g.user.username}
    job = jobs.find_running(g.user.id, kind, params)
    if job is None:
        job = jobs.create_job(g.user.id, kind, title, params, rows_total)
        jobs.start(current_app._get_current_object(), job.id)
    return redirect(url_for("ExportJobView.job", job_id=job.id))


class ExportView(BaseView):
    """Downloads of BHasile data as .xlsx workbooks, limited to the user's territory.

    An export of more than ``BHASILE_EXPORT_SYNC_MAX_ROWS`` rows is written in the
    background: the user follows its progress, then downloads the file (``exports.jobs``).
    """

    route_base = "/exporter"
    bhasile_area = "structure"
    default_view = "workbook"
    base_permissions = ["can_export"]

    @expose("/classeur.xlsx", methods=["GET", "POST"])
    @has_access
    @permission_name("export")
    def workbook(self):
        # lazy: read at call time — tests replace exports.workbook.export_workbook
        from exports.workbook import export_workbook

        name = f"bhasile-classeur-{dt.date.today():%Y-%m-%d}.xlsx"
        total = workbook_rows(db.session, current_scope())
        if total > _sync_limit():
            return _background(self, "classeur", name, {}, total)
        path = _temp()
        export_workbook(db.session, path, current_scope(), user=g.user.username)
        return _send(path, name)

    @expose("/vue/<view_name>/", methods=["GET", "POST"])
    @has_access
    @permission_name("export")
    def view(self, view_name: str):
        target = next((v for v in self.appbuilder.baseviews
                       if v.__class__.__name__ == view_name and isinstance(v, ModelView)), None)
        if target is None or not self.appbuilder.sm.has_access("can_list", target.class_permission_name):
            abort(404)
        ids, filters, sort = _view_ids(target)
        sheet = sheet_for(target)

        shown = visible_columns(target)   # the columns the list shows (its column chooser)
        hidden = [c for c in target.list_columns if c not in shown]
        if request.args.get(COLUMNS_ARG) and isinstance(filters, dict):
            filters = {**filters, "colonnes": ", ".join(shown)}
        name = f"{getattr(target, 'list_title', '') or view_name}-{dt.date.today():%Y-%m-%d}.xlsx"
        if len(ids) > _sync_limit():
            params = {"view": view_name, "sheet": sheet.name if sheet else None, "ids": ids,
                      "filters": filters, "sort": list(sort) if isinstance(sort, tuple) else sort,
                      "columns": shown, "hidden": hidden}
            return _background(self, "vue", name, params, len(ids))
        path = _temp()
        if sheet is not None:
            export_view(db.session, path, sheet, current_scope(), ids, g.user.username, filters, sort,
                        view_columns=shown, hidden=hidden)
        else:
            export_list(db.session, path, target, ids, g.user.username, filters, sort,
                        scope=current_scope(), columns=shown)
        return _send(path, name)


class ExportJobView(BaseView):
    """The user's background exports: progress page, JSON status, download, recent list.

    Same permission as the exports themselves; a job is only ever shown to its owner.
    """

    route_base = "/exporter"
    bhasile_area = "structure"
    class_permission_name = "ExportView"
    default_view = "mine"
    base_permissions = ["can_export"]

    @expose("/suivi/<int:job_id>/")
    @has_access
    @permission_name("export")
    def job(self, job_id: int):
        job = _owned(job_id)
        return self.render_template("bhasile/exports/job.html", job=job, state=job_state(job),
                                    appbuilder=self.appbuilder)

    @expose("/suivi/<int:job_id>/etat.json")
    @has_access
    @permission_name("export")
    def job_status(self, job_id: int):
        response = jsonify(job_state(_owned(job_id)))
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/suivi/<int:job_id>/fichier")
    @has_access
    @permission_name("export")
    def job_file(self, job_id: int):

        job = _owned(job_id)
        if job.status != DONE or not job.file_path or not scope_unchanged(job):
            abort(404)
        if os.path.isabs(job.file_path):  # written by an older version, on this host's disk
            if not os.path.exists(job.file_path):
                abort(404)
            return send_file(job.file_path, mimetype=XLSX, as_attachment=True,
                             download_name=job.title)

        store = file_store()  # unreachable: StorageError, a French 503 (app.web.errors)
        if not store.exists(job.file_path):
            abort(404)
        return send_file(store.open(job.file_path), mimetype=XLSX, as_attachment=True, download_name=job.title)

    @expose("/mes-exports/")
    @has_access
    @permission_name("export")
    def mine(self):
        jobs = recent_jobs(g.user.id)
        return self.render_template("bhasile/exports/list.html", jobs=jobs,
                                    states={j.id: job_state(j) for j in jobs},
                                    appbuilder=self.appbuilder)


def _owned(job_id: int):
    job = owned_job(job_id, g.user.id)
    if job is None:
        abort(404)
    return job


STATUS_LABELS = {"en_attente": _l("En attente"), "en_cours": _l("En cours"), "termine": _l("Terminé"),
                 "echec": _l("Échec"), "expire": _l("Expiré")}


def job_state(job) -> dict:
    """What the progress page and its script show of a job (the JSON status)."""
    state = {"id": job.id, "status": job.status, "status_label": str(STATUS_LABELS[job.status]),
             "rows_done": job.rows_done, "rows_total": job.rows_total, "percent": job.percent,
             "sheet": job.sheet or "", "title": job.title, "created": paris(job.created_at),
             "expires": paris(job.expires_at) if job.expires_at else "", "finished": job.status in
             (DONE, FAILED, EXPIRED), "download_url": None, "error": None}
    state["expires_message"] = _("Le fichier est conservé jusqu'au %(d)s, puis supprimé.",
                                 d=state["expires"]) if job.expires_at else ""
    if job.status == DONE:
        state["download_url"] = url_for("ExportJobView.job_file", job_id=job.id)
        state["message"] = _("Export terminé : %(n)s lignes.", n=fr_number(job.rows_done))
    elif job.status == FAILED:
        state["error"] = _("L'export n'a pas pu être produit. Aucun fichier n'a été conservé ; "
                           "relancez l'export ou signalez-le à l'assistance (export n° %(n)s).", n=job.id)
        state["message"] = state["error"]
    elif job.status == EXPIRED:
        state["message"] = _("Ce fichier a expiré et a été supprimé : relancez l'export.")
    elif job.sheet:
        state["message"] = _("Feuille « %(s)s » : %(d)s lignes écrites sur %(t)s (%(p)s %%).",
                             s=job.sheet, d=fr_number(job.rows_done), t=fr_number(job.rows_total),
                             p=job.percent)
    else:
        state["message"] = _("Export en attente de démarrage…")
    return state


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
    add(ExportJobView, "Mes exports", _l("Mes exports"), "Echanges", _l("Import / export"),
        icon="fa-clock-o")
    current_app.jinja_env.globals["bhasile_export_url"] = export_url
