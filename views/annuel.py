"""Per-year and per-month tables of a structure: places, budgets, monthly activity (+ API)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.labels import LABELS
from app.sheets.canonical import ACTIVITE, BUDGETS, PLACES
from models import ActiviteMensuelle, BudgetAnnee, PlacesAnnee

from .base import ScopedModelApi, ScopedModelView, interface

#: The fields of each record, read from its sheet (``app.sheets.canonical``): a new column of
#: the sheet is in the forms, the fiche and the API without another line here.
PLACES_FIELDS = PLACES.record_fields()
BUDGET_FIELDS = BUDGETS.record_fields()
ACTIVITE_FIELDS = ACTIVITE.record_fields()


class PlacesAnneeView(ScopedModelView):
    """Places of a structure for one year (the Places section's form)."""

    datamodel = interface(PlacesAnnee)
    bhasile_area = "places"
    list_title = _l("Places par année")
    add_title = _l("Ajouter une année de places")
    edit_title = _l("Modifier les places de l'année")
    list_columns = ["structure", *PLACES_FIELDS[:5]]
    add_columns = edit_columns = show_columns = ["structure", *PLACES_FIELDS]
    search_columns = ["structure", "annee", "places_autorisees"]
    label_columns = LABELS
    order_columns = ["annee", "places_autorisees", "pmr", "lgbt", "fvv_teh"]
    base_order = ("annee", "desc")


class BudgetAnneeView(ScopedModelView):
    """Budget of a structure for one year (the Finances section's form)."""

    datamodel = interface(BudgetAnnee)
    bhasile_area = "budget"
    list_title = _l("Budgets par année")
    add_title = _l("Ajouter une année de budget")
    edit_title = _l("Modifier le budget de l'année")
    list_columns = ["structure", "annee", "dotation_demandee", "dotation_accordee",
                    "total_produits", "total_charges", "reprise_etat"]
    add_columns = edit_columns = show_columns = ["structure", *BUDGET_FIELDS]
    search_columns = ["structure", "annee"]
    label_columns = LABELS
    order_columns = ["annee", "dotation_demandee", "dotation_accordee", "total_produits",
                     "total_charges", "reprise_etat"]
    base_order = ("annee", "desc")


class ActiviteView(ScopedModelView):
    """Occupancy of a structure for one month (the Activité section's form)."""

    datamodel = interface(ActiviteMensuelle)
    bhasile_area = "activite"
    list_title = _l("Activité mensuelle")
    add_title = _l("Ajouter un mois d'activité")
    edit_title = _l("Modifier le mois d'activité")
    list_columns = ["structure", *ACTIVITE_FIELDS[:5], "presences_indues_bpi",
                    "presences_indues_deboutes"]
    add_columns = edit_columns = show_columns = ["structure", *ACTIVITE_FIELDS]
    search_columns = ["structure", "mois"]
    label_columns = LABELS
    order_columns = ["mois", "places_autorisees", "places_occupees"]
    base_order = ("mois", "desc")


def _api(model, name: str, area: str, fields: list[str]) -> type:
    attrs = {"resource_name": name, "datamodel": interface(model), "bhasile_area": area,
             "list_columns": ["id", "structure.code_dna", *fields, "version"],
             "show_columns": ["id", "structure.id", "structure.code_dna", *fields, "version"],
             "add_columns": ["structure", *fields], "edit_columns": fields,
             "search_columns": ["structure", fields[0]],
             "__doc__": f"REST API of {model.__tablename__} (scope, rules and locking as the forms)."}
    return type(f"{model.__name__}Api", (ScopedModelApi,), attrs)


PlacesAnneeApi = _api(PlacesAnnee, "places", "places", PLACES_FIELDS)
BudgetAnneeApi = _api(BudgetAnnee, "budget", "budget", BUDGET_FIELDS)
ActiviteApi = _api(ActiviteMensuelle, "activite", "activite", ACTIVITE_FIELDS)

MENU_ORDER = 12


def register(add, appbuilder) -> None:
    suivi = ("Suivi", _l("Suivi annuel"))
    add(PlacesAnneeView, "Places", _l("Places par année"), *suivi, icon="fa-bed")
    add(BudgetAnneeView, "Budgets", _l("Budgets par année"), *suivi, icon="fa-euro")
    add(ActiviteView, "Activité", _l("Activité mensuelle"), *suivi, icon="fa-line-chart")
    for api in (PlacesAnneeApi, BudgetAnneeApi, ActiviteApi):
        appbuilder.add_api(api)
