"""Imports page: upload → preview (counts, diff, errors, warnings) → annotated file → apply;
the list of batches with their original files; empty templates to download."""
from __future__ import annotations

import io
import json
import re
from typing import Optional

from flask import current_app, flash, g, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from app.web.hardening import form_token_ok
from app.extensions import db
from app.scope import current_scope
from app.sheets import SHEETS
from app.documents.storage import check_room_for
from exports.template import template_for
from imports import background
from imports.annotate import annotate
from imports.background import APPLYING, reap
from imports.batches import create_batch, load_summary, original, save_choices
from imports.changes import conflicts, KINDS, page as detail, record, unchosen
from imports.pipeline import ImportCommand
from imports.result import labels_once
from models.imports import ImportBatch

from .import_jobs import _own, owner, progress_page, start_apply

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE = 50
CONFLICTS = 500   #: listed with a choice each; beyond, one side for all


_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _shown(value):
    """A value of the diff as the agent reads it (dates jj/mm/aaaa, decimals with a comma)."""
    if isinstance(value, str) and _ISO.match(value):
        return "/".join(reversed(value.split("-")))
    if isinstance(value, float):
        return f"{value:,.2f}".replace(",", "\u202f").replace(".", ",")
    return value


def _unchosen(batch: ImportBatch) -> int:
    """Conflicts of the batch's preview still without a side chosen."""
    return unchosen(db.session, batch.id)


#: the kinds of the detail as the filter names them: a label, or a label holding the count
KIND_LABELS = {"conflict": _l("Conflits (%(n)s)"), "error": _l("Erreurs (%(n)s)"),
               "verify": _l("À vérifier"), "created": _l("Nouvelles"), "modified": _l("Modifiées"),
               "note": _l("Remarques (%(n)s)")}


def _kind_options(kinds: dict[str, int]) -> list[tuple[str, str]]:
    """(kind, label with its count) of the kinds the detail holds."""
    out = []
    for kind, label in KIND_LABELS.items():
        n = kinds.get(kind, 0)
        if n:
            text = str(label)
            out.append((kind, text % {"n": n} if "%(n)s" in text else f"{text} ({n})"))
    return out


def detail_line(row) -> dict:
    """A line of the detail as the page shows it: a change's fields (old → new) rendered."""
    line = {"seq": row.seq, "kind": row.kind, "sheet": row.sheet, "row": row.row,
            "column": row.column, "message": row.message, "value": row.value,
            "key": json.loads(row.key) if row.key else [], "choice": row.choice, "fields": {}}
    if row.kind in ("created", "modified"):
        with labels_once():
            change = record(row).change_dict()
        line["key"] = change["key"]
        line["fields"] = {k: [_shown(v) for v in pair] for k, pair in change["fields"].items()}
    elif row.kind == "conflict":
        line["mine"], line["theirs"] = json.loads(row.value)
    return line


class ImportView(BaseView):
    """Import of agents' workbooks, with a preview before anything is written."""

    route_base = "/imports"
    bhasile_area = "import"
    default_view = "index"
    base_permissions = ["can_list", "can_show", "can_add", "can_download"]

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        query = select(ImportBatch).order_by(ImportBatch.id.desc()).limit(200)
        if not current_scope().national:
            query = query.where(ImportBatch.username == g.user.username)

        # ``counts`` holds only counts: the detail of a batch stays in ``import_change``
        batches = [(b, load_summary(b).get("sheets", {})) for b in db.session.scalars(query)]

        return self.render_template("bhasile/imports/index.html", batches=batches, sheets=SHEETS,
                                    csrf=generate_csrf())

    @expose("/envoyer", methods=["POST"])
    @has_access
    @permission_name("add")
    def upload(self):
        if not form_token_ok():
            return redirect(url_for(".index"))
        upload = request.files.get("fichier")
        if upload is None or not upload.filename:
            flash(_("Choisissez un fichier à importer."), "warning")
            return redirect(url_for(".index"))
        year = request.form.get("annee", "").strip()
        if year and not (year.isdigit() and 1900 <= int(year) <= 2100):
            flash(_("Année invalide : %(y)s.", y=year), "danger")
            return redirect(url_for(".index"))
        data = upload.read()
        check_room_for(len(data))  # full disk: a French 507 before a byte is written
        if background.is_large(len(data)):  # previewed in the background, followed on its page
            batch = background.start_preview(current_app._get_current_object(), data, upload.filename,
                                             owner(), int(year) if year else None)
            return redirect(url_for(".show", batch_id=batch.id))
        batch, _result = create_batch(data, upload.filename, current_scope(), g.user,
                                      int(year) if year else None)
        return redirect(url_for(".show", batch_id=batch.id))

    @expose("/<int:batch_id>/")
    @has_access
    @permission_name("show")
    def show(self, batch_id: int):
        batch = _own(batch_id)
        running = progress_page(self, batch)
        if running is not None:
            return running

        summary = load_summary(batch)
        kinds = summary.get("kinds", {})
        kind = request.args.get("type", "")
        kind = kind if kind in KINDS else ""
        sheet = request.args.get("feuille", "")
        sheet = sheet if sheet in summary.get("detail_sheets", {}) else ""
        page = max(request.args.get("page", 1, type=int), 1)
        rows, total = detail(db.session, batch.id, kind or None, sheet or None,
                             (page - 1) * PAGE, PAGE)
        conflicts = [detail_line(r) for r in detail(db.session, batch.id, "conflict", None, 0,
                                              CONFLICTS)[0]] if kinds.get("conflict") else []
        return self.render_template(
            "bhasile/imports/show.html", batch=batch, summary=summary, page=page,
            pages=max((total + PAGE - 1) // PAGE, 1), lines=[detail_line(r) for r in rows], total=total,
            kind=kind, sheet=sheet, kinds=kinds, kind_options=_kind_options(kinds), conflicts=conflicts,
            n_changes=kinds.get("created", 0) + kinds.get("modified", 0),
            unchosen=_unchosen(batch) if kinds.get("conflict") else 0, csrf=generate_csrf())

    @expose("/<int:batch_id>/appliquer", methods=["POST"])
    @has_access
    @permission_name("add")
    def apply(self, batch_id: int):
        batch = reap(_own(batch_id))
        if not form_token_ok():
            return redirect(url_for(".show", batch_id=batch_id))
        if batch.status not in ("apercu", APPLYING):
            _not_applicable(batch)
            return redirect(url_for(".show", batch_id=batch_id))
        if _unchosen(batch):
            flash(_("Choisissez une valeur pour chaque conflit avant d'appliquer l'import "
                    "(%(n)s sans choix).", n=_unchosen(batch)), "danger")
            return redirect(url_for(".show", batch_id=batch_id))
        return start_apply(batch)  # one apply at a time; the outcome is told on the batch page

    @expose("/<int:batch_id>/choix", methods=["POST"])
    @has_access
    @permission_name("add")
    def choose(self, batch_id: int):
        """The side kept for each conflict (a cell changed in the file and in BHasile since the
        export): one choice per cell, or one side for all."""
        batch = _own(batch_id)
        if not form_token_ok():
            return redirect(url_for(".show", batch_id=batch_id))
        if batch.status != "apercu":
            _not_applicable(batch)
            return redirect(url_for(".show", batch_id=batch_id))
        side = request.form.get("tout")
        choices = {ident: side or request.form.get(f"choix-{n}")
                   for n, ident, _choice in conflicts(db.session, batch.id)}
        left = save_choices(batch, {k: v for k, v in choices.items() if v})
        if left:
            flash(_("Choix enregistrés ; %(n)s conflit(s) encore sans choix.", n=left), "warning")
        else:
            flash(_("Choix enregistrés : vous pouvez appliquer l'import."), "success")
        return redirect(url_for(".show", batch_id=batch_id) + "#conflits")

    @expose("/<int:batch_id>/annote")
    @has_access
    @permission_name("show")
    def annotated(self, batch_id: int):
        batch = _own(batch_id)
        result = ImportCommand(original(batch), batch.filename, current_scope(), batch.year).validate()
        db.session.rollback()
        if result.problem:
            flash(result.problem, "danger")
            return redirect(url_for(".show", batch_id=batch_id))
        data = annotate(original(batch), batch.filename, result.errors,
                        result.notes + [c.issue for c in result.conflicts])
        name = batch.filename.rsplit(".", 1)[0] + "-annote.xlsx"
        return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name)

    @expose("/<int:batch_id>/original")
    @has_access
    @permission_name("show")
    def original(self, batch_id: int):
        batch = _own(batch_id)
        return send_file(io.BytesIO(original(batch)), as_attachment=True,
                         download_name=batch.filename, mimetype="application/octet-stream")

    @expose("/modele.xlsx")
    @has_access
    @permission_name("download")
    def template(self):
        out = io.BytesIO()
        names: Optional[list[str]] = request.args.getlist("feuille") or None
        template_for(db.session, out, current_scope(), names)
        out.seek(0)
        return send_file(out, mimetype=XLSX, as_attachment=True, download_name="modele-bhasile.xlsx")


MENU_ORDER = 80

#: an import's status as the agent reads it (badge of every import page, and the messages)
STATUS_LABELS = {"apercu": _l("aperçu, à valider"), "applique": _l("appliqué"),
                 "refuse": _l("erreurs à corriger"),
                 "perime": _l("données modifiées depuis l'aperçu"),
                 "inutilisable": _l("fichier inutilisable"),
                 "verification": _l("vérification en cours"),
                 "application": _l("application en cours"),
                 "echec": _l("échec de la vérification")}


def _not_applicable(batch: ImportBatch) -> None:
    flash(_("Cet import ne peut pas être appliqué (%(s)s).",
            s=STATUS_LABELS.get(batch.status, batch.status)), "danger")


def register(add, appbuilder) -> None:
    current_app.jinja_env.globals["import_status_labels"] = STATUS_LABELS
    add(ImportView, "Imports", _l("Imports"), "Echanges", _l("Import / export"), icon="fa-upload")
