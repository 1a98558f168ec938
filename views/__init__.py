"""Every page and API of BHasile, registered in one place (menus in French)."""
from __future__ import annotations

from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from .operateurs import OperateurApi, OperateurView
from .structures import (ActiviteView, BudgetAnneeView, PlacesAnneeView, StructureApi,
                         StructureView)


def register_views(appbuilder: AppBuilder) -> None:
    """Add the views, their menus and their APIs; records each menu's area for the roles."""
    areas: dict[str, str] = {}

    def add(view, name: str, label, category: str, category_label, icon: str = "") -> None:
        appbuilder.add_view(view, name, label=label, icon=icon, category=category,
                            category_label=category_label)
        areas[name] = view.bhasile_area
        areas.setdefault(category, view.bhasile_area)

    parc = ("Parc", _l("Parc"))
    add(StructureView, "Structures", _l("Structures"), *parc, icon="fa-home")
    add(OperateurView, "Opérateurs", _l("Opérateurs"), *parc, icon="fa-building")
    suivi = ("Suivi", _l("Suivi annuel"))
    add(PlacesAnneeView, "Places", _l("Places par année"), *suivi, icon="fa-bed")
    add(BudgetAnneeView, "Budgets", _l("Budgets par année"), *suivi, icon="fa-euro")
    add(ActiviteView, "Activité", _l("Activité mensuelle"), *suivi, icon="fa-line-chart")
    for api in (StructureApi, OperateurApi):
        appbuilder.add_api(api)
    appbuilder.bhasile_menu_areas = areas
