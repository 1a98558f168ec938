"""Opérateurs: list, page (structures, places and dotations by year, CPOMs) and REST API."""
from __future__ import annotations

from flask import abort, current_app
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.extensions import db
from app.labels import LABELS
from app.scope import condition_for, current_scope, structure_condition
from app.sheets.canonical import OPERATEURS
from models import BudgetAnnee, Convention, Operateur, PlacesAnnee, Structure

from .base import ScopedModelApi, ScopedModelView, interface
from .fiche import years

#: An opérateur's fields, read from the Opérateurs sheet (``app.sheets.canonical``).
FIELDS = OPERATEURS.record_fields()


def operateur_context(op: Operateur) -> dict:
    """The structures of an opérateur inside the user's territory, its totals and contracts."""
    scope = current_scope()
    and_scope = (Structure.operateur_id == op.id) & structure_condition(scope)
    structures = db.session.scalars(select(Structure).where(and_scope).order_by(Structure.code_dna)).all()
    shown = years()
    places = dict(db.session.execute(
        select(PlacesAnnee.annee, func.sum(PlacesAnnee.places_autorisees))
        .join(Structure, Structure.id == PlacesAnnee.structure_id).where(and_scope,
                                                                         PlacesAnnee.annee.in_(shown))
        .group_by(PlacesAnnee.annee)).all())
    dotations = dict(db.session.execute(
        select(BudgetAnnee.annee, func.sum(BudgetAnnee.dotation_accordee))
        .join(Structure, Structure.id == BudgetAnnee.structure_id).where(and_scope,
                                                                         BudgetAnnee.annee.in_(shown))
        .group_by(BudgetAnnee.annee)).all())
    conventions = db.session.scalars(
        select(Convention).where(Convention.operateur_id == op.id, condition_for(Convention, scope))
        .order_by(Convention.date_fin.desc())).all()
    return {"item": op, "structures": structures, "years": shown, "places": places,
            "dotations": dotations, "conventions": conventions}


class OperateurView(ScopedModelView):
    """The opérateurs of the territory (those running at least one of its structures)."""

    datamodel = interface(Operateur)
    bhasile_area = "operateur"
    list_title = _l("Opérateurs")
    show_title = _l("Fiche opérateur")
    add_title = _l("Nouvel opérateur")
    edit_title = _l("Modifier l'opérateur")
    list_columns = FIELDS
    search_columns = ["nom", "siret"]
    add_columns = edit_columns = show_columns = FIELDS
    label_columns = LABELS
    base_order = ("nom", "asc")

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        sm = self.appbuilder.sm
        return self.render_template("bhasile/operateur.html", title=str(item), labels=LABELS,
                                    can_edit=sm.has_access("can_edit", "OperateurView"),
                                    has_documents="DocumentView.owner" in current_app.view_functions,
                                    appbuilder=self.appbuilder, **operateur_context(item))


class OperateurApi(ScopedModelApi):
    """REST API of the opérateurs."""

    resource_name = "operateur"
    bhasile_area = "operateur"
    datamodel = interface(Operateur)
    list_columns = ["id", *FIELDS, "version"]
    show_columns = ["id", *FIELDS, "version"]
    add_columns = edit_columns = FIELDS
    search_columns = ["nom", "siret"]


MENU_ORDER = 20


def register(add, appbuilder) -> None:
    add(OperateurView, "Opérateurs", _l("Opérateurs"), "Parc", _l("Parc"), icon="fa-building")
    appbuilder.add_api(OperateurApi)
