"""The base of every BHasile view: the territory filter, applied on every path."""
from __future__ import annotations

from typing import Any

from flask import abort
from flask_appbuilder import ModelView
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from app.extensions import db
from app.scope import condition_for, current_scope, structure_condition
from models import Departement, Operateur, Structure


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
        from sqlalchemy import or_

        return query.filter(or_(*conds))


def in_scope(item: Any) -> bool:
    """Would this record (as the form or API left it) sit inside the user's territory?"""
    scope = current_scope()
    if scope.national:
        return True
    if isinstance(item, Structure):
        if scope.is_operateur:
            return False  # an opérateur never creates nor moves a structure
        dep = db.session.get(Departement, item.departement_id) if item.departement_id else None
        return dep is not None and (dep.id in scope.departement_ids or dep.region_id in scope.region_ids)
    structure_id = getattr(item, "structure_id", None)
    if structure_id is not None:
        found = db.session.scalar(
            select(Structure.id).where(Structure.id == structure_id, structure_condition(scope)))
        return found is not None
    if isinstance(item, Operateur):
        return item.id is not None and db.session.scalar(
            select(Operateur.id).where(Operateur.id == item.id, condition_for(Operateur, scope))
        ) is not None
    return False


class ScopedModelView(ModelView):
    """A FAB ModelView limited to the user's territory, for reading and for writing."""

    bhasile_area = "structure"
    base_filters = SCOPE_FILTERS
    page_size = 50

    def pre_add(self, item):
        if not in_scope(item):
            raise ValueError(_l("Cet enregistrement sortirait de votre périmètre."))

    def pre_update(self, item):
        if not in_scope(item):
            raise ValueError(_l("Cet enregistrement sortirait de votre périmètre."))

    def pre_delete(self, item):
        if not in_scope(item):
            abort(404)


class ScopedModelApi(ModelRestApi):
    """A FAB REST API limited to the user's territory (out of scope = 404 or 400)."""

    bhasile_area = "structure"
    base_filters = SCOPE_FILTERS
    allow_browser_login = True  # the session cookie works too (the grid and charts use it)

    def pre_add(self, item):
        if not in_scope(item):
            raise BadRequest(str(_l("Cet enregistrement sortirait de votre périmètre.")))

    def pre_update(self, item):
        if not in_scope(item):
            raise BadRequest(str(_l("Cet enregistrement sortirait de votre périmètre.")))


def interface(model: type) -> SQLAInterface:
    return SQLAInterface(model, db.session)
