"""« Mes tâches »: an opérateur's structures in the open campaigns, their transmission, and the
pre-filled workbook of exactly those structures, uploaded back through the import pipeline."""
from __future__ import annotations

import io

from flask import abort, current_app, flash, g, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from app.campagnes import CampagneError, transmit
from app.campagnes.suivi import rows
from app.web.errors import refused_page
from app.extensions import db
from app.gate import WriteRefused
from app.scope import condition_for, current_scope
from exports.campagnes import export_prefilled
from imports import background
from imports.apply import StaleRows
from imports.batches import apply_batch, create_batch, load_summary
from imports.changes import page
from models.campagne import Campagne, StatutCampagne, Tache
from models.imports import ImportBatch
from views.imports import detail_line

from .campagnes import XLSX, scoped
from .import_jobs import owner, progress_page


def _own_batch(batch_id: int) -> ImportBatch:
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None or batch.username != g.user.username:
        abort(404)
    return batch


def _open_campagne(pk: int) -> Campagne:
    campagne = scoped(Campagne, pk)
    if campagne.statut is not StatutCampagne.OUVERTE:
        abort(404)
    return campagne


class TransmissionView(BaseView):
    """What an opérateur fills and transmits in the open campaigns."""

    route_base = "/campagnes/saisie"
    bhasile_area = "transmission"
    default_view = "index"
    base_permissions = ["can_list", "can_download", "can_transmettre", "can_upload"]

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        scope = current_scope()
        campagnes = db.session.scalars(select(Campagne).where(
            condition_for(Campagne, scope), Campagne.statut == StatutCampagne.OUVERTE)
            .order_by(Campagne.ouverte_le.desc())).all()
        groups = [(c, rows(db.session, c, scope)) for c in campagnes]
        return self.render_template("bhasile/campagnes/mes_taches.html", groups=groups,
                                    csrf=generate_csrf(), title=_("Mes tâches"))

    @expose("/tache/<int:pk>/transmettre", methods=["POST"])
    @has_access
    @permission_name("transmettre")
    def transmettre(self, pk: int):
        tache = scoped(Tache, pk)
        try:
            transmit(db.session, current_scope(), tache, g.user.username, request.form.get("message", ""))
        except WriteRefused as exc:
            return refused_page(exc)
        except CampagneError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            flash(_("Structure %(c)s transmise aux services de l'État.", c=tache.structure.code_dna),
                  "success")
        if request.form.get("retour") == "tache":
            return redirect(url_for("CampagneView.tache", pk=pk))
        return redirect(url_for(".index"))

    @expose("/<int:pk>/classeur.xlsx")
    @has_access
    @permission_name("download")
    def classeur(self, pk: int):
        campagne = _open_campagne(pk)
        out = io.BytesIO()
        export_prefilled(db.session, out, campagne, current_scope(), g.user.username)
        out.seek(0)
        return send_file(out, mimetype=XLSX, as_attachment=True,
                         download_name=f"campagne-{campagne.id}-pre-rempli.xlsx")

    @expose("/<int:pk>/envoyer", methods=["POST"])
    @has_access
    @permission_name("upload")
    def envoyer(self, pk: int):
        campagne = _open_campagne(pk)
        upload = request.files.get("fichier")
        if upload is None or not upload.filename:
            flash(_("Choisissez le classeur à envoyer."), "warning")
            return redirect(url_for(".index"))
        data = upload.read()
        if background.is_large(len(data)):  # checked in the background, followed on the preview's page
            batch = background.start_preview(current_app._get_current_object(), data, upload.filename, owner(), None)
        else:
            batch, _result = create_batch(data, upload.filename, current_scope(), g.user)
        return redirect(url_for(".apercu", pk=campagne.id, batch_id=batch.id))

    @expose("/<int:pk>/import/<int:batch_id>/")
    @has_access
    @permission_name("upload")
    def apercu(self, pk: int, batch_id: int):
        campagne = _open_campagne(pk)
        batch = _own_batch(batch_id)
        waiting = progress_page(self, batch, back=url_for(".apercu", pk=campagne.id, batch_id=batch.id))
        if waiting is not None:  # a large workbook still being checked (or whose check stopped)
            return waiting

        summary = load_summary(batch)
        kinds = summary.get("kinds", {})
        errors = [detail_line(r) for r in page(db.session, batch.id, "error", limit=500)[0]]
        changes = [detail_line(r) for r in page(db.session, batch.id, ("created", "modified"), limit=200)[0]]
        return self.render_template(
            "bhasile/campagnes/apercu.html", campagne=campagne, batch=batch, summary=summary,
            errors=errors, n_errors=kinds.get("error", 0), changes=changes,
            n_changes=kinds.get("created", 0) + kinds.get("modified", 0),
            csrf=generate_csrf(), title=_("Aperçu de l'envoi"))

    @expose("/<int:pk>/import/<int:batch_id>/appliquer", methods=["POST"])
    @has_access
    @permission_name("upload")
    def appliquer(self, pk: int, batch_id: int):
        campagne = _open_campagne(pk)
        batch = _own_batch(batch_id)
        back = url_for(".apercu", pk=campagne.id, batch_id=batch_id)
        if batch.status != "apercu":  # refused at the preview: the gate's errors are listed
            flash(_("Cet envoi ne peut pas être appliqué."), "danger")
            return redirect(back)
        try:
            result = apply_batch(batch, current_scope(), g.user.username)
        except StaleRows as exc:
            flash(str(exc), "danger")
            return redirect(back)
        if result.applied:
            flash(_("Classeur appliqué : %(n)s lignes écrites.", n=len(result.changes)), "success")
            return redirect(url_for(".index"))
        flash(_("Envoi refusé : le classeur contient des erreurs."), "danger")
        return redirect(back)


MENU_ORDER = 86


def register(add, appbuilder) -> None:
    add(TransmissionView, "Mes tâches", _l("Mes tâches"), "Campagnes", _l("Campagnes de collecte"),
        icon="fa-check-square-o")
