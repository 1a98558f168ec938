"""A large import's check and apply, followed from the batch page: its progress page, the JSON
status the page polls, and « Relancer » for a check that stopped (``imports.background``).

Same permissions as the Imports page; a batch is only ever shown to its owner (or a national
user), like the batch page itself.
"""
from __future__ import annotations

from typing import Optional

from flask import abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf

from app.web.hardening import form_token_ok
from app.extensions import db
from app.jinja import fr_number
from app.web.return_to import safe_next
from app.scope import current_scope
from imports import background
from imports.background import FAILED, Owner, reap, RUNNING
from imports.batches import original_size
from models.imports import ImportBatch

STEP_LABELS = {"verification": _l("Vérification en cours"), "application": _l("Application en cours"),
               "echec": _l("Échec de la vérification")}




def _own(batch_id: int) -> ImportBatch:
    """A batch the user may see: their own, or any for a national user; else 404."""
    batch = db.session.get(ImportBatch, batch_id)
    scope = current_scope()
    if batch is None or not (scope.national or batch.username == g.user.username):
        abort(404)
    return batch


def owner():
    """The request's user, as the background step will act: their scope and account."""
    return Owner(current_scope(), g.user.username, g.user.id)


def percent(batch: ImportBatch) -> int:
    total = batch.progress_total or 0
    return min(99, int(100 * (batch.progress_done or 0) / total)) if total else 0


def message(batch: ImportBatch) -> str:
    """What the step is doing, as the agent reads it."""
    done, total = fr_number(batch.progress_done or 0), fr_number(batch.progress_total or 0)
    stage = batch.progress_stage
    if batch.status == "echec":
        return _("La vérification du fichier n'a pas abouti : rien n'a été écrit. Relancez-la, ou "
                 "signalez-le à l'assistance (import n° %(n)s).", n=batch.id)
    if stage == "start":
        return _("Démarrage du traitement…")
    if stage == "queued":
        return _("En attente : un autre import est en cours de traitement…")
    if stage == "parse":
        return _("%(d)s lignes lues sur %(t)s", d=done, t=total)
    if stage == "check":
        return _("%(d)s lignes vérifiées sur %(t)s", d=done, t=total)
    if stage == "write":
        if not batch.progress_total:
            return _("Écriture des lignes dans la base…")
        return _("%(d)s lignes écrites sur %(t)s", d=done, t=total)
    if stage == "save":
        return _("Enregistrement du résultat…")
    if stage == "read":
        return _("Lecture du fichier…")
    return _("Traitement terminé.")


def batch_state(batch: ImportBatch, back: Optional[str] = None) -> dict:
    """What the progress page and its script show of a batch (the JSON status); ``back``: the
    page to open once it is done (a campaign's preview), a path of this site, else the batch's."""
    running = batch.status in RUNNING
    return {"id": batch.id, "status": batch.status,
            "status_label": str(STEP_LABELS.get(batch.status, _("Terminé"))),
            "stage": batch.progress_stage or "", "rows_done": batch.progress_done or 0,
            "rows_total": batch.progress_total or 0, "percent": percent(batch),
            "finished": not running, "message": message(batch),
            "page_url": safe_next(back) or url_for("ImportView.show", batch_id=batch.id)}


def progress_page(view: BaseView, batch: ImportBatch, back: Optional[str] = None) -> Optional[str]:
    """The progress page of a batch being checked or applied, or whose check stopped; None when
    the batch page shows its preview or its outcome. A step that died is marked ended first.
    ``back``: the page the script opens when the step is done (default: the batch's)."""
    batch = reap(batch)
    if batch.status not in RUNNING and batch.status != FAILED:
        return None
    return view.render_template("bhasile/imports/progress.html", batch=batch, back=back,
                                state=batch_state(batch, back), csrf=generate_csrf())


def start_apply(batch: ImportBatch):
    """« Appliquer »: one apply at a time per batch; a large file in the background, followed
    on the batch page; a small one at once, told by a message."""
    batch_id, size = batch.id, original_size(batch)
    if not background.claim_apply(batch_id):
        flash(_("Cet import est déjà en cours d'application : suivez son avancement sur cette "
                "page, inutile de le relancer."), "warning")
        return redirect(url_for("ImportView.show", batch_id=batch_id))
    if background.is_large(size):
        background.start(current_app._get_current_object(), background.run_apply, batch_id, owner())
        return redirect(url_for("ImportView.show", batch_id=batch_id))
    outcome, _detail = background.run_apply(batch_id, owner())
    if outcome in ("refuse", "inutilisable"):
        flash(_("Import refusé : le fichier contient des erreurs."), "danger")
    elif outcome == "conflicts":
        flash(_("Choisissez une valeur pour chaque conflit avant d'appliquer l'import "
                "(%(n)s sans choix).", n=_detail), "danger")
    return redirect(url_for("ImportView.show", batch_id=batch_id))


class ImportJobView(BaseView):
    """The background steps of the user's imports: JSON status and « Relancer »."""

    route_base = "/imports"
    bhasile_area = "import"
    class_permission_name = "ImportView"
    base_permissions = ["can_show", "can_add"]

    @expose("/<int:batch_id>/etat.json")
    @has_access
    @permission_name("show")
    def status(self, batch_id: int):
        response = jsonify(batch_state(reap(_own(batch_id)), request.args.get("retour")))
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/<int:batch_id>/relancer", methods=["POST"])
    @has_access
    @permission_name("add")
    def rerun(self, batch_id: int):
        batch = background.reap(_own(batch_id))
        if form_token_ok():
            if background.claim_check(batch.id):
                background.start(current_app._get_current_object(), background.run_preview,
                                 batch.id, owner())
            else:
                flash(_("Cette vérification est déjà en cours ou terminée."), "warning")
        return redirect(url_for("ImportView.show", batch_id=batch_id))


MENU_ORDER = 81


def register(add, appbuilder) -> None:
    appbuilder.add_view_no_menu(ImportJobView())
