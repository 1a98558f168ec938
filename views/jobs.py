"""Tâches planifiées (administrateurs): the runs of every job and « Recalculer maintenant »."""
from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from app.web.hardening import form_token_ok
from app.extensions import db
from app.jobs.job_lock import LOCK_TTL
from app.jobs import JOB_LABELS, paris, pending_request, run_job
from models import JobRun
from models.base import utcnow
from models.enums import DONE, FAILED, RUNNING

STATUS_LABELS = {DONE: _l("Réussie"), FAILED: _l("Échec"), RUNNING: _l("En cours")}
STATUS_BADGES = {FAILED: "error", RUNNING: "info"}  # else "success"
TRIGGER_LABELS = {"planifie": _l("Planifiée"), "auto": _l("Après modification"),
                  "manuel": _l("Manuelle"), "cli": _l("Ligne de commande"),
                  "demarrage": _l("Au démarrage")}


class TachesView(BaseView):
    """The run history of the scheduled jobs; admins start a rebuild by hand."""

    route_base = "/taches"
    bhasile_area = "reference"
    default_view = "index"

    @expose("/")
    @has_access
    @permission_name("taches")
    def index(self):
        runs = db.session.scalars(select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc())
                                  .limit(200)).all()
        return self.render_template("bhasile/taches.html", runs=runs, pending=pending_request(),
                                    labels=JOB_LABELS, statuses=STATUS_LABELS,
                                    badges=STATUS_BADGES, running=RUNNING,
                                    triggers=TRIGGER_LABELS, paris=paris, csrf=generate_csrf(),
                                    stale_before=utcnow() - LOCK_TTL,
                                    title=_("Tâches planifiées"))

    @expose("/recalculer/", methods=["POST"])
    @has_access
    @permission_name("recalculer")
    def recalculer(self):
        if not form_token_ok():
            return redirect(url_for(".index"))
        job = request.form.get("job", "rebuild")
        if job not in JOB_LABELS:
            flash(_("Tâche inconnue."), "danger")
            return redirect(url_for(".index"))
        run_id = run_job(job, "manuel")
        run = db.session.get(JobRun, run_id) if run_id else None
        if run is None:
            flash(_("Cette tâche est déjà en cours : réessayez dans un instant."), "warning")
        elif run.status == DONE:
            flash(_("%(j)s terminé en %(s)s s (%(n)s lignes).", j=JOB_LABELS[job],
                    s=f"{run.duration_ms / 1000:.2f}".replace(".", ","), n=run.rows), "success")
        else:
            flash(_("Échec : %(e)s. Les indicateurs précédents sont conservés.", e=run.error), "danger")
        return redirect(url_for(".index"))


MENU_ORDER = 95


def register(add, appbuilder) -> None:
    # Added without ``add``: its menu entry gets no area, so only administrators see it.
    appbuilder.add_view(TachesView, "Tâches planifiées", label=_l("Tâches planifiées"),
                        icon="fa-clock-o", category="Pilotage", category_label=_l("Pilotage"))
