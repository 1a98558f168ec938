"""The base of every BHasile view: the territory filter, applied on every path."""
from __future__ import annotations

from functools import partial
from typing import Any, Optional

from flask import abort, request
from flask_appbuilder import ModelView, expose
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.exceptions import DatabaseException
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import exists, or_, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import BadRequest
from wtforms import HiddenField

from app.extensions import db
from app.labels import enum_label
from app.locking import is_stale, stale_message
from app.scope import NOWHERE, condition_for, current_scope, structure_condition
from models import Departement, Operateur, Structure

from .writes import (VERSION_FIELD, api_state_errors, checked_form, enum_fields, grouped,
                     is_versioned, loaded_version, object_errors)


class ScopeFilter(BaseFilter):
    """FAB filter that keeps the rows of the current user's territory."""

    name = _l("Périmètre")
    arg_name = "scope"

    def apply(self, query, value: Any):
        return query.filter(condition_for(self.model, current_scope()))


SCOPE_FILTERS = [["id", ScopeFilter, None]]


def departement_choices_filter():
    """Drop-down of départements: only those of the user's territory."""
    return [["id", _DepartementScopeFilter, None]]


class _DepartementScopeFilter(BaseFilter):
    name = "departement scope"
    arg_name = "depscope"

    def apply(self, query, value):
        scope = current_scope()
        if scope.national:
            return query
        conds = []
        if scope.departement_ids:
            conds.append(Departement.id.in_(sorted(scope.departement_ids)))
        if scope.region_ids:
            conds.append(Departement.region_id.in_(sorted(scope.region_ids)))
        if not conds:
            return query.filter(Departement.id.is_(None))
        return query.filter(or_(*conds))


def in_scope(item: Any) -> bool:
    """Would this record (as the form or API left it) sit inside the user's territory?"""
    with db.session.no_autoflush:  # the record being checked must not be written meanwhile
        return _in_scope(item)


def _in_scope(item: Any) -> bool:
    scope = current_scope()
    if scope.national:
        return True
    if isinstance(item, Structure):
        if scope.is_operateur:
            return False  # an opérateur never creates nor moves a structure
        dep = item.departement  # the form sets the relation; the foreign key follows at flush
        if dep is None and item.departement_id:
            dep = db.session.get(Departement, item.departement_id)
        return dep is not None and (dep.id in scope.departement_ids or dep.region_id in scope.region_ids)
    structure_id = getattr(item, "structure_id", None)
    if getattr(item, "structure", None) is not None:
        structure_id = item.structure.id
    if structure_id is None and getattr(item, "adresse", None) is not None:
        structure_id = item.adresse.structure_id
    if structure_id is not None:
        found = db.session.scalar(
            select(Structure.id).where(Structure.id == structure_id, structure_condition(scope)))
        return found is not None
    if isinstance(item, Operateur):
        return item.id is not None and db.session.scalar(
            select(Operateur.id).where(Operateur.id == item.id, condition_for(Operateur, scope))
        ) is not None
    return False


class OperateurChoiceFilter(BaseFilter):
    """Opérateurs a user may pick in a form: those of their territory, or not yet in use."""

    name = _l("Opérateurs du périmètre")
    arg_name = "opscope"

    def apply(self, query, value: Any):
        scope = current_scope()
        unused = ~exists().where(Structure.operateur_id == Operateur.id)
        return query.filter(or_(condition_for(Operateur, scope), unused))


def _has_scope_rule(model: type) -> bool:
    try:
        condition_for(model, NOWHERE)
    except LookupError:
        return False
    return True


def scoped_rel_fields(datamodel: SQLAInterface, columns, existing: Optional[dict]) -> dict:
    """Drop-down filters for every relation of ``columns``: only records of the territory."""
    fields = dict(existing or {})
    for col in columns or []:
        if col in fields or not datamodel.is_relation(col):
            continue
        related = datamodel.get_related_model(col)
        if related is Operateur:
            fields[col] = [["id", OperateurChoiceFilter, None]]
        elif _has_scope_rule(related):
            fields[col] = [["id", ScopeFilter, None]]
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


class ScopedModelView(ModelView):
    """A FAB ModelView limited to the user's territory, for reading and for writing.

    Its forms carry the loaded version (optimistic locking) and run the domain rules
    (``views.writes``); its drop-downs only offer records of the territory.
    """

    bhasile_area = "structure"
    base_filters = SCOPE_FILTERS
    page_size = 50

    def _init_properties(self):
        super()._init_properties()
        shown = [*self.list_columns, *self.show_columns]
        self.formatters_columns = {**enum_formatters(self.datamodel, shown),
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
        self.add_form = checked_form(self.add_form, self, creating=True)
        self.edit_form = checked_form(self.edit_form, self, creating=False)

    @expose("/download/<string:filename>")
    @has_access
    def download(self, filename):
        """FAB's file-column download: BHasile models have no file column (documents have
        their own view), so there is nothing to serve here."""
        abort(404)

    def prefill_form(self, form, pk):
        if VERSION_FIELD in form:
            item = self.datamodel.get(pk, self._base_filters)
            form[VERSION_FIELD].data = item.version if item is not None else None

    def _refuse(self) -> None:
        db.session.rollback()  # nothing the form set may reach the database
        raise ValueError(_l("Cet enregistrement sortirait de votre périmètre."))

    def pre_add(self, item):
        if not in_scope(item):
            self._refuse()

    def pre_update(self, item):
        if not in_scope(item):
            self._refuse()

    def pre_delete(self, item):
        if not in_scope(item):
            abort(404)


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

    def pre_add(self, item):
        if not in_scope(item):
            raise BadRequest(str(_l("Cet enregistrement sortirait de votre périmètre.")))

    def pre_update(self, item):
        if not in_scope(item):
            raise BadRequest(str(_l("Cet enregistrement sortirait de votre périmètre.")))

    def _checked_write(self, item, status: int):
        """Rules, field rights and scope, then the write; every refusal rolls back."""
        forbidden = api_state_errors(item)
        if forbidden:
            db.session.rollback()
            return self.response(403, message=grouped(forbidden))
        errors = object_errors(item)
        if errors:
            db.session.rollback()
            return self.response_422(message=grouped(errors))
        try:
            (self.pre_add if status == 201 else self.pre_update)(item)
        except BadRequest:
            db.session.rollback()
            raise
        try:
            (self.datamodel.add if status == 201 else self.datamodel.edit)(item)
        except (DatabaseException, SQLAlchemyError) as exc:
            db.session.rollback()
            return self.response_422(message=str(_l("Enregistrement impossible : %(e)s",
                                                e=str(getattr(exc, "__cause__", exc))[:300])))
        (self.post_add if status == 201 else self.post_update)(item)
        body = {"result": self.edit_model_schema.dump(item, many=False),
                "id": self.datamodel.get_pk_value(item)}
        if hasattr(item, "version"):
            body["version"] = item.version
        return self.response(status, **body)

    def post_headless(self):
        if not request.is_json:
            return self.response_400(message=str(_l("La requête doit être en JSON.")))
        try:
            item = self.add_model_schema.load(dict(request.json or {}))
        except ValidationError as err:
            return self.response_422(message=err.messages)
        return self._checked_write(item, 201)

    def put_headless(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        if not request.is_json:
            return self.response_400(message=str(_l("La requête doit être en JSON.")))
        payload = dict(request.json or {})
        loaded = loaded_version(payload, request.headers.get("If-Match"))
        if is_versioned(type(item)):
            if loaded is None:
                return self.response(428, message=str(_l(
                    "Indiquez la version modifiée (champ « version » ou en-tête If-Match).")))
            if is_stale(item, loaded):
                return self.response(409, message=stale_message(item, loaded),
                                     version=item.version)
        try:
            data = self._merge_update_item(item, payload)
            item = self.edit_model_schema.load(data, instance=item)
        except ValidationError as err:
            db.session.rollback()
            return self.response_422(message=err.messages)
        return self._checked_write(item, 200)


def interface(model: type) -> SQLAInterface:
    return SQLAInterface(model, db.session)
