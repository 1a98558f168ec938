"""The base of every BHasile view: the territory filter, applied on every path."""
from __future__ import annotations

import re
import threading
from functools import partial
from typing import Any, Optional

from flask import abort, request
from flask_appbuilder import ModelView, expose
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.exceptions import DatabaseException
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import Column
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import BadRequest
from wtforms import HiddenField

from app.audit import record_key
from app.web.errors import database_unavailable
from app.extensions import db
from app.gate import UNCHECKED, Gate, status_of
from app.historique import ENTITY_LABELS
from app.labels import enum_label, LABELS
from app.numbers import french_numbers, money_formatters
from app.web.return_to import ReturnToMixin
from app.scope import choosable_condition, condition_for, current_scope
from app.vues import visible_columns

from .writes import (VERSION_FIELD, checked_form, enum_fields, grouped, is_versioned,
                     loaded_version, record_values, stored_view)


class ScopeFilter(BaseFilter):
    """FAB filter that keeps the rows of the current user's territory."""

    name = _l("Périmètre")
    arg_name = "scope"

    def apply(self, query, value: Any):
        return query.filter(condition_for(self.model, current_scope()))


SCOPE_FILTERS = [["id", ScopeFilter, None]]


class ChoiceFilter(BaseFilter):
    """FAB filter of a form's drop-down: the records a user may link to (``app.scope``)."""

    name = _l("Choix du périmètre")
    arg_name = "choice"

    def apply(self, query, value: Any):
        return query.filter(choosable_condition(self.model, current_scope()))


def scoped_rel_fields(datamodel: SQLAInterface, columns, existing: Optional[dict]) -> dict:
    """Drop-down filters for every relation of ``columns``: only what the write gate accepts."""
    fields = dict(existing or {})
    for col in columns or []:
        if col not in fields and datamodel.is_relation(col):
            fields[col] = [["id", ChoiceFilter, None]]
    return fields


def enum_formatters(datamodel: SQLAInterface, columns) -> dict:
    """A formatter per enum column: lists and show pages print « Programmé », not the raw
    ``PROGRAMME`` FAB hands them (labels from ``app.labels``)."""
    formatters = {}
    for col in columns:
        if col in datamodel.list_columns and datamodel.is_enum(col):
            enum_class = datamodel.list_columns[col].type.enum_class
            if enum_class is not None:
                formatters[col] = partial(enum_label, enum_class)
    return formatters


class ScopedModelView(ReturnToMixin, ModelView):
    """A FAB ModelView limited to the user's territory, for reading and for writing.

    Its forms carry the loaded version (optimistic locking) and run the domain rules
    (``views.writes``); its drop-downs only offer records of the territory; numbers are typed
    and shown the French way (``app.numbers``); a save goes back to the page the form was
    opened from (``app.web.return_to``).
    """

    bhasile_area = "structure"
    base_filters = SCOPE_FILTERS
    page_size = 50

    def _init_properties(self):
        super()._init_properties()
        shown = [*self.list_columns, *self.show_columns]
        self.formatters_columns = {**enum_formatters(self.datamodel, shown),
                                   **money_formatters(self.datamodel, shown),
                                   **self.formatters_columns}

    def _init_forms(self):
        self.add_form_query_rel_fields = scoped_rel_fields(
            self.datamodel, self.add_columns, self.add_form_query_rel_fields)
        self.edit_form_query_rel_fields = scoped_rel_fields(
            self.datamodel, self.edit_columns, self.edit_form_query_rel_fields)
        self.search_form_query_rel_fields = scoped_rel_fields(
            self.datamodel, self.search_columns, self.search_form_query_rel_fields)
        labels = self.label_columns or {}
        self.add_form_extra_fields = {**enum_fields(self.datamodel, self.add_columns, labels),
                                      **(self.add_form_extra_fields or {})}
        self.edit_form_extra_fields = {**enum_fields(self.datamodel, self.edit_columns, labels),
                                       **(self.edit_form_extra_fields or {})}
        if is_versioned(self.datamodel.obj) and VERSION_FIELD not in self.edit_columns:
            self.edit_columns = [*self.edit_columns, VERSION_FIELD]
            self.edit_form_extra_fields = {**(self.edit_form_extra_fields or {}),
                                           VERSION_FIELD: HiddenField()}
        super()._init_forms()
        self.add_form = checked_form(french_numbers(self.add_form), self, creating=True)
        self.edit_form = checked_form(french_numbers(self.edit_form), self, creating=False)

    @expose("/download/<string:filename>")
    @has_access
    def download(self, filename):
        """FAB's file-column download: BHasile models have no file column (documents have
        their own view), so there is nothing to serve here."""
        abort(404)

    def _get_list_widget(self, *args, **kwargs):
        """FAB's list widget, showing only the columns the user chose (``colonnes``, the
        column chooser of the saved-views toolbar: ``app.vues``)."""
        widgets = super()._get_list_widget(*args, **kwargs)

        widget = widgets.get("list")
        if widget is not None and request.args.get("colonnes"):
            widget.template_args["include_columns"] = visible_columns(self)
        return widgets

    def prefill_form(self, form, pk):
        if VERSION_FIELD in form:
            item = self.datamodel.get(pk, self._base_filters)
            form[VERSION_FIELD].data = item.version if item is not None else None

    def pre_delete(self, item):
        errors = Gate(current_scope()).check_delete(type(item), item)
        if errors:
            db.session.rollback()
            abort(status_of(errors) if status_of(errors) != 422 else 404)


class ScopedModelApi(ModelRestApi):
    """A FAB REST API limited to the user's territory (out of scope = 404 or 400).

    Writes run the same checks as the forms: a PUT sends the version it edits (``version``
    in the body or ``If-Match``; stale = 409), the domain rules answer 422 per field, the
    State's fields answer 403 for an opérateur.
    """

    bhasile_area = "structure"
    base_filters = SCOPE_FILTERS
    allow_browser_login = True  # the session cookie works too (the grid and charts use it)

    def __init__(self, *args, **kwargs):
        self.add_query_rel_fields = scoped_rel_fields(
            self.datamodel, self.add_columns, self.add_query_rel_fields)
        self.edit_query_rel_fields = scoped_rel_fields(
            self.datamodel, self.edit_columns, self.edit_query_rel_fields)
        super().__init__(*args, **kwargs)
        self._schemas = threading.local()

    def _loader(self, kind: str) -> Any:
        """This thread's own instance of the add or edit schema, for ``load``.

        FAB builds one schema instance per API, and marshmallow-sqlalchemy's ``load`` keeps the
        record it updates (``instance``) and the session on that instance while it runs: two
        saves at once in one gunicorn worker (threads) updated each other's record, mixing
        the objects of two sessions (« Object … is already attached to session », unique
        violations, autoflush errors under the load test). A schema per thread shares nothing.
        """
        schema = getattr(self._schemas, kind, None)
        if schema is None:
            schema = type(getattr(self, f"{kind}_model_schema"))()
            setattr(self._schemas, kind, schema)
        return schema

    def pre_delete(self, item):
        errors = Gate(current_scope()).check_delete(type(item), item)
        if errors:
            db.session.rollback()
            raise BadRequest(errors[0].message)

    def _refused(self, errors: list, stored: Any = None) -> Any:
        """The gate's refusal: one message for the whole record (a stale version carries the
        current one), else ``{field: [messages]}``; rolled back, nothing written."""
        db.session.rollback()  # nothing the call set may reach the database
        status = status_of(errors)
        if status == 404:
            return self.response_404()
        if len(errors) == 1 and errors[0].field is None:
            extra = {"version": stored.version} if status == 409 and stored is not None else {}
            return self.response(status, message=errors[0].message, **extra)
        return self.response(status, message=grouped(errors))

    def _body(self) -> Optional[dict]:
        body = request.get_json(silent=True) if request.is_json else None
        return body if isinstance(body, dict) else None

    def _bad_body(self):
        return self.response_400(message=str(_l(
            "Le corps de la requête doit être un objet JSON (Content-Type: application/json).")))

    def _save(self, item: Any, status: int):
        """The hooks, then the write; a database refusal rolls back with a French message."""
        try:
            (self.pre_add if status == 201 else self.pre_update)(item)
        except BadRequest as exc:
            db.session.rollback()
            return self.response_400(message=str(exc.description))
        values = record_values(item)   # what was sent: a refusal rolls the object back
        try:
            (self.datamodel.add if status == 201 else self.datamodel.edit)(item)
        except (DatabaseException, SQLAlchemyError, OverflowError) as exc:
            db.session.rollback()
            # FAB's edit wraps the SQLAlchemy error in DatabaseException, its add re-raises it as is
            cause = (exc.__cause__ or exc) if isinstance(exc, DatabaseException) else exc
            if isinstance(cause, StaleDataError):
                return self.response(409, message=str(_l(
                    "Enregistrement refusé : cette fiche a été modifiée par quelqu'un d'autre "
                    "pendant votre enregistrement. Rien n'a été écrasé ; relisez-la et recommencez.")))
            if isinstance(cause, IntegrityError):
                return self.response(409, message=integrity_message(cause, type(item), values))
            if database_unavailable(cause):
                return self.response(503, message=str(_l(
                    "Enregistrement impossible pour le moment (base de données indisponible). Rien "
                    "n'a été écrit ; réessayez.")))
            return self.response_422(message=str(_l(
                "Enregistrement refusé : une valeur ne convient pas à la base (texte trop long, "
                "nombre hors limites…). Rien n'a été écrit.")))
        (self.post_add if status == 201 else self.post_update)(item)
        body = {"result": self.edit_model_schema.dump(item, many=False),
                "id": self.datamodel.get_pk_value(item)}
        if hasattr(item, "version"):
            body["version"] = item.version
        return self.response(status, **body)

    def post_headless(self):
        payload = self._body()
        if payload is None:
            return self._bad_body()
        try:
            item = self._loader("add").load(payload)
        except ValidationError as err:
            db.session.rollback()
            return self.response_422(message=err.messages)
        errors = Gate(current_scope()).check(type(item), None, record_values(item))
        if errors:
            return self._refused(errors)
        return self._save(item, 201)

    def put_headless(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        payload = self._body()
        if payload is None:
            return self._bad_body()
        version = loaded_version(payload, request.headers.get("If-Match"))
        before = record_values(item)
        try:
            item = self._loader("edit").load(self._merge_update_item(item, payload), instance=item)
        except ValidationError as err:
            db.session.rollback()
            return self.response_422(message=err.messages)
        after = record_values(item)
        changed = {k: v for k, v in after.items() if k not in before or before[k] is not v
                   and before[k] != v}
        model, stored = type(item), stored_view(before)
        errors = Gate(current_scope()).check(
            model, stored, changed, version if is_versioned(model) else UNCHECKED)
        if errors:
            return self._refused(errors, stored)
        return self._save(item, 200)


_PG_KEY = re.compile(r"Key \((?P<columns>[^)]+)\)=\((?P<values>.*)\) (?P<what>already exists|is not present)")
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w., ]+)")


def integrity_message(error: IntegrityError, model: type, values: dict) -> str:
    """The French 409 of a save the database refused as contradicting another row: the record
    saved, and the value already used (or the linked row gone) when the database tells it."""
    table = getattr(model, "__tablename__", "")
    key = record_key(None, values) if values.get("id") is None else f"n° {values['id']}"
    record = f"{ENTITY_LABELS.get(table, table)} {key}".strip()
    orig = getattr(error, "orig", None)
    diag = getattr(getattr(orig, "diag", None), "message_detail", None) or ""
    found = _PG_KEY.search(diag)
    if found:
        columns = [c.strip().strip('"') for c in found["columns"].split(",")]
        shown = ", ".join(str(LABELS.get(c, c)) for c in columns)
        if found["what"] == "already exists":
            return _("Enregistrement refusé : %(record)s — « %(field)s » %(value)s est déjà utilisé "
                     "par un autre enregistrement. Rien n'a été écrit.",
                     record=record, field=shown, value=found["values"])
        return _("Enregistrement refusé : %(record)s — « %(field)s » %(value)s n'existe plus. "
                 "Rien n'a été écrit.", record=record, field=shown, value=found["values"])
    found = _SQLITE_UNIQUE.search(str(orig or error))
    if found:
        columns = [c.strip().rsplit(".", 1)[-1] for c in found["columns"].split(",")]
        shown = ", ".join(str(LABELS.get(c, c)) for c in columns)
        value = ", ".join(str(values.get(c, "")) for c in columns)
        return _("Enregistrement refusé : %(record)s — « %(field)s » %(value)s est déjà utilisé "
                 "par un autre enregistrement. Rien n'a été écrit.",
                 record=record, field=shown, value=value)
    return _("Enregistrement refusé : %(record)s contredit un enregistrement existant (clé déjà "
             "utilisée ou ligne liée disparue). Rien n'a été écrit.", record=record)


class Interface(SQLAInterface):
    """FAB's interface, told that a value computed by a subquery (``column_property``, e.g.
    a structure's convention dates) is no table column: nullable, not unique, read-only."""

    def _computed(self, col_name: str) -> bool:
        return col_name in self.list_columns and not isinstance(self.list_columns[col_name], Column)

    def is_nullable(self, col_name: str) -> bool:
        return True if self._computed(col_name) else super().is_nullable(col_name)

    def is_unique(self, col_name: str) -> bool:
        return False if self._computed(col_name) else super().is_unique(col_name)


def interface(model: type) -> SQLAInterface:
    return Interface(model, db.session)
