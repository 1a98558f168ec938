"""Documents contractuels et financiers: upload, list, download, delete, checklist.

A document belongs to a structure, a convention (CPOM included) or an opérateur. Reading
follows the territory rule (out of scope = 404, downloads included); every upload and delete
asks the write gate (``app.documents.write_refusals``: an opérateur only writes on its own
structures). Every upload, download and delete lands in the change history.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import abort, flash, g, redirect, request, send_file, url_for
from werkzeug.routing import BuildError
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError

from app.documents import (DocumentError, content_disposition, delete_document, detect_type,
                           evaluate, max_bytes, period_label, record, safe_name, save_document,
                           too_big_message, write_refusals)
from app.web.errors import refused_page
from app.extensions import db
from app.gate import Gate, WriteRefused
from app.scope import condition_for, current_scope, find_inside
from app.documents.storage import StorageError, get_storage
from models import Convention, Document, Operateur, Structure
from models.enums import CategorieDocument

log = logging.getLogger(__name__)

#: The kinds of owner a document can have, by URL segment.
OWNERS: dict[str, type] = {"structure": Structure, "convention": Convention, "operateur": Operateur}
PAGE_SIZE = 50


ACTES = ("ARRETE_AUTORISATION", "CONVENTION", "CPOM", "ARRETE_TARIFICATION", "INSPECTION_CONTROLE",
         "EVALUATION", "AUTRE")
CSRF_EXPIRED = _l("Le formulaire a expiré : rechargez la page et recommencez.")


class UploadForm(FlaskForm):
    """The upload form: the file, its category, its year or period, the document it amends."""

    fichier = FileField(_l("Fichier"), validators=[FileRequired(_l("Choisissez un fichier."))])
    categorie = SelectField(_l("Catégorie"), choices={
        _l("Actes"): [(c.value, c.label) for c in CategorieDocument if c.value in ACTES],
        _l("Documents financiers"): [(c.value, c.label) for c in CategorieDocument if c.value not in ACTES],
    })
    annee = IntegerField(_l("Année"), validators=[Optional(), NumberRange(
        1990, 2100, message=_l("L'année doit être comprise entre 1990 et 2100."))])
    periode_debut = DateField(_l("Début de période"), validators=[Optional()])
    periode_fin = DateField(_l("Fin de période"), validators=[Optional()])
    parent_id = SelectField(_l("Avenant au document"), coerce=int, validators=[Optional()])

    @classmethod
    def for_owner(cls, docs: list[Document]) -> "UploadForm":
        form = cls()
        form.parent_id.choices = [(0, _("— aucun (document principal) —"))] + [
            (d.id, f"{d.categorie.label} {period_label(d)} — {d.nom_original}") for d in docs]
        return form

    def validate_periode_fin(self, field) -> None:
        if field.data and self.periode_debut.data and field.data <= self.periode_debut.data:
            raise ValidationError(_("La fin de période doit être postérieure à son début."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.csrf_token.errors:
            self.csrf_token.errors = [str(CSRF_EXPIRED)]
        dated = self.annee.data or self.periode_debut.data or self.periode_fin.data
        if not dated and self.categorie.data not in ACTES and not self.annee.errors:
            self.annee.errors = [*self.annee.errors,
                                 _("Indiquez l'année ou la période de ce document financier.")]
            valid = False
        return valid


class DeleteForm(FlaskForm):
    """The one-button form that deletes a document: it carries the CSRF token, which
    ``app.web.hardening.csrf_check`` verifies on every POST."""


def _in_scope(model: type, ident: int) -> Any:
    """The record of the user's territory, else 404."""
    return find_inside(db.session, model, ident, current_scope()) or abort(404)


def _new(kind: str, owner: Any) -> Document:
    """A document to add to ``owner`` (not in the session): what the gate is asked about."""
    return Document(**{f"{kind}_id": owner.id})


def _upload_limit(endpoint: str | None, values: dict | None) -> None:
    if endpoint and endpoint.endswith(".upload"):
        request.max_content_length = max_bytes() + 1024 * 1024  # the file plus the other fields


def _too_large(error):
    """An upload beyond the limit: back to the owner's page with a French message (not a 413)."""
    flash(too_big_message(), "danger")
    args = request.view_args or {}
    if "kind" in args and "owner_id" in args:
        return redirect(url_for("DocumentView.owner", kind=args["kind"], owner_id=args["owner_id"]))
    return redirect(url_for("DocumentView.list"))


def owner_page(kind: str, owner: Any) -> tuple[str, str | None]:
    """The owner's label and the URL of its own page (when that page exists)."""
    label = {"structure": _("Structure"), "convention": _("Convention"), "operateur": _("Opérateur")}[kind]
    try:
        url = url_for(f"{OWNERS[kind].__name__}View.show", pk=owner.id)
    except BuildError:
        url = None
    return f"{label} {owner}", url


def owner_kind(doc: Document) -> tuple[str, int]:
    for kind in OWNERS:
        if getattr(doc, f"{kind}_id") is not None:
            return kind, getattr(doc, f"{kind}_id")
    raise LookupError(doc.id)


class DocumentView(BaseView):
    """Documents of the structures, conventions and opérateurs of the user's territory."""

    route_base = "/documents"
    bhasile_area = "document"
    default_view = "list"
    method_permission_name = {"list": "list", "owner": "list", "checklist": "list",
                              "download": "download", "upload": "add", "delete": "delete"}
    #: the query arguments a saved view of the list keeps (app/vues.py)
    saved_view_args = frozenset({"code_dna", "categorie", "annee"})

    def create_blueprint(self, appbuilder, endpoint=None, static_folder=None):
        blueprint = super().create_blueprint(appbuilder, endpoint, static_folder)
        # URL preprocessors run before any before_request hook (the CSRF check reads the body),
        # so the document limit, not the general upload limit, applies to this form.
        blueprint.url_value_preprocessor(_upload_limit)
        blueprint.register_error_handler(RequestEntityTooLarge, _too_large)
        return blueprint

    def _may(self, permission: str, kind: str, owner: Any) -> bool:
        return self.appbuilder.sm.has_access(permission, self.class_permission_name) and not \
            write_refusals(Gate(current_scope()), _new(kind, owner))

    @expose("/list/")
    @has_access
    def list(self):
        query = select(Document).where(condition_for(Document, current_scope()))
        code = (request.args.get("code_dna") or "").strip().upper()
        categorie = request.args.get("categorie") or ""
        annee = request.args.get("annee", type=int)
        if code:
            query = query.join(Structure, Structure.id == Document.structure_id).where(
                Structure.code_dna.startswith(code))
        if categorie in CategorieDocument.__members__:
            query = query.where(Document.categorie == CategorieDocument(categorie))
        if annee:
            query = query.where(or_(Document.annee == annee, func.extract("year", Document.periode_debut) == annee))
        total = db.session.scalar(select(func.count()).select_from(query.subquery()))
        page = max(request.args.get("page", 1, type=int), 1)
        docs = db.session.scalars(query.order_by(Document.uploaded_at.desc(), Document.id.desc())
                                  .options(selectinload(Document.structure), selectinload(Document.convention),
                                           selectinload(Document.operateur))
                                  .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        filters = {k: v for k, v in request.args.items() if k in ("code_dna", "categorie", "annee")}
        return self.render_template("bhasile/documents/list.html", docs=docs, total=total, page=page,
                                    pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
                                    categories=CategorieDocument, filters=filters,
                                    owner_kind=owner_kind, period_label=period_label)

    @expose("/checklist/")
    @has_access
    def checklist(self):
        """Go to a structure's checklist from its code DNA."""
        code = (request.args.get("code_dna") or "").strip().upper()
        structure = db.session.scalar(select(Structure).where(
            Structure.code_dna == code, condition_for(Structure, current_scope())))
        if structure is None:
            flash(_("Aucune structure « %(code)s » dans votre périmètre.", code=code), "warning")
            return redirect(url_for(".list"))
        return redirect(url_for(".owner", kind="structure", owner_id=structure.id,
                                annee=request.args.get("annee", type=int)))

    @expose("/<kind>/<int:owner_id>/")
    @has_access
    def owner(self, kind: str, owner_id: int):
        return self._render_owner(kind, _in_scope(OWNERS.get(kind) or abort(404), owner_id))

    def _render_owner(self, kind: str, owner: Any, form: UploadForm | None = None, status: int = 200):
        docs = db.session.scalars(select(Document).where(getattr(Document, f"{kind}_id") == owner.id)
                                  .order_by(Document.uploaded_at, Document.id)).all()
        may_add = self._may("can_add", kind, owner)
        if form is None and may_add:
            form = UploadForm.for_owner(docs)
        year = request.args.get("annee", type=int)
        year = year if year and 1990 <= year <= 2100 else dt.date.today().year
        items, found = [], {}
        if kind == "structure":
            items = evaluate(db.session, [owner.id], year)
            ids = sorted({i for item in items for i in item.documents})
            found = {d.id: d for d in db.session.scalars(select(Document).where(Document.id.in_(ids)))}
        roots = [d for d in docs if d.parent_id is None or d.parent_id not in {x.id for x in docs}]
        owner_label, owner_url = owner_page(kind, owner)
        this_year = dt.date.today().year
        return self.render_template(
            "bhasile/documents/owner.html", kind=kind, owner=owner, roots=roots, form=form,
            owner_label=owner_label, owner_url=owner_url, may_add=may_add,
            may_delete=self._may("can_delete", kind, owner), delete_form=DeleteForm(), items=items,
            found=found, year=year, years=range(this_year + 1, this_year - 6, -1),
            period_label=period_label, max_mb=max_bytes() / (1024 * 1024)), status

    @expose("/<kind>/<int:owner_id>/upload", methods=["POST"])
    @has_access
    def upload(self, kind: str, owner_id: int):
        owner = _in_scope(OWNERS.get(kind) or abort(404), owner_id)
        back = url_for(".owner", kind=kind, owner_id=owner_id)
        scope = current_scope()
        refused = write_refusals(Gate(scope), _new(kind, owner))  # before reading the file
        if refused:
            return refused_page(WriteRefused(refused))
        docs = db.session.scalars(select(Document).where(getattr(Document, f"{kind}_id") == owner.id)).all()
        form = UploadForm.for_owner(docs)
        if not form.validate_on_submit():
            return self._render_owner(kind, owner, form, 400)
        try:
            doc, data = self._document(kind, owner, form)
            save_document(db.session, get_storage(), doc, data, scope)
        except WriteRefused as exc:
            if exc.status in (403, 404):
                return refused_page(exc)
            form.fichier.errors = [e.message for e in exc.errors]
            return self._render_owner(kind, owner, form, 400)
        except DocumentError as exc:
            form.fichier.errors = [str(exc)]
            return self._render_owner(kind, owner, form, 400)
        except (StorageError, SQLAlchemyError):
            log.exception("document upload failed")
            flash(_("Le document n'a pas pu être enregistré ; réessayez ou contactez l'assistance."),
                  "danger")
            return redirect(back)
        flash(_("Document « %(name)s » enregistré.", name=doc.nom_original), "success")
        return redirect(back)

    def _document(self, kind: str, owner: Any, form: UploadForm) -> tuple[Document, bytes]:
        upload = form.fichier.data
        data = upload.read(max_bytes() + 1)
        if len(data) > max_bytes():
            raise DocumentError(too_big_message())
        file_kind = detect_type(data)
        doc = Document(categorie=CategorieDocument(form.categorie.data), annee=form.annee.data,
                       periode_debut=form.periode_debut.data, periode_fin=form.periode_fin.data,
                       nom_original=safe_name(upload.filename, file_kind), taille=len(data),
                       mime_type=file_kind.mime, uploaded_by=g.user.username,
                       parent_id=form.parent_id.data or None)
        setattr(doc, f"{kind}_id", owner.id)
        return doc, data

    @expose("/<int:doc_id>/download")
    @has_access
    def download(self, doc_id: int):
        doc = _in_scope(Document, doc_id)
        try:
            stream = get_storage().open(doc.stockage)
        except StorageError:
            log.error("document %s: file %s missing", doc.id, doc.stockage)
            abort(404, _("Le fichier de ce document est introuvable ; signalez-le à l'assistance."))
        record(db.session, doc, "download")
        db.session.commit()
        response = send_file(stream, mimetype=doc.mime_type, conditional=False, max_age=0)
        response.headers["Content-Disposition"] = content_disposition(doc.nom_original)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @expose("/<int:doc_id>/delete", methods=["POST"])
    @has_access
    def delete(self, doc_id: int):
        doc = _in_scope(Document, doc_id)
        kind, owner_id = owner_kind(doc)
        back = url_for(".owner", kind=kind, owner_id=owner_id)
        name = doc.nom_original
        try:
            delete_document(db.session, get_storage(), doc, current_scope())
        except WriteRefused as exc:
            return refused_page(exc)
        except DocumentError as exc:
            flash(str(exc), "danger")
            return redirect(back)
        flash(_("Document « %(name)s » supprimé.", name=name), "success")
        return redirect(back)


MENU_ORDER = 40


def register(add, appbuilder) -> None:
    add(DocumentView, "Documents", _l("Documents"), "Parc", _l("Parc"), icon="fa-file-text-o")
