"""Opérateurs: list, page and REST API, limited to the user's territory."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.labels import LABELS
from models import Operateur

from .base import ScopedModelApi, ScopedModelView, interface
from .structures import StructureView

FIELDS = ["nom", "siret", "direction_generale", "siege_social"]


class OperateurView(ScopedModelView):
    datamodel = interface(Operateur)
    bhasile_area = "operateur"
    list_title = _l("Opérateurs")
    show_title = _l("Fiche opérateur")
    list_columns = FIELDS
    search_columns = ["nom", "siret"]
    add_columns = edit_columns = show_columns = FIELDS
    label_columns = LABELS
    base_order = ("nom", "asc")
    related_views = [StructureView]

    def pre_add(self, item):
        from app.scope import current_scope

        if not current_scope().national and current_scope().read_only:
            raise ValueError(_l("Action non autorisée."))


class OperateurApi(ScopedModelApi):
    resource_name = "operateur"
    bhasile_area = "operateur"
    datamodel = interface(Operateur)
    list_columns = ["id", *FIELDS, "version"]
    show_columns = ["id", *FIELDS, "version"]
    add_columns = edit_columns = FIELDS

    def pre_add(self, item):
        pass


MENU_ORDER = 20


def register(add, appbuilder) -> None:
    add(OperateurView, "Opérateurs", _l("Opérateurs"), "Parc", _l("Parc"), icon="fa-building")
    appbuilder.add_api(OperateurApi)
