"""Structures: list, fiche, forms and REST API, limited to the user's territory."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.labels import LABELS
from models import ActiviteMensuelle, BudgetAnnee, PlacesAnnee, Structure

from .base import ScopedModelApi, ScopedModelView, departement_choices_filter, interface

STRUCTURE_FIELDS = ["code_dna", "nom", "type", "operateur", "filiale", "departement",
                    "adresse_administrative", "code_postal", "commune", "code_finess", "public",
                    "date_creation", "date_303", "lgbt", "fvv_teh", "debut_autorisation",
                    "fin_autorisation", "debut_convention", "fin_convention", "latitude",
                    "longitude", "notes"]
PLACES_FIELDS = ["annee", "places_autorisees", "pmr", "lgbt", "fvv_teh", "places_a_creer",
                 "echeance_places_a_creer", "places_a_fermer", "echeance_places_a_fermer"]
BUDGET_FIELDS = ["annee", "etp", "taux_encadrement", "cout_journalier", "dotation_demandee",
                 "dotation_accordee", "total_produits", "total_charges", "reprise_etat"]


class PlacesAnneeView(ScopedModelView):
    datamodel = interface(PlacesAnnee)
    bhasile_area = "places"
    list_title = _l("Places par année")
    list_columns = ["structure", *PLACES_FIELDS]
    add_columns = edit_columns = ["structure", *PLACES_FIELDS]
    show_columns = ["structure", *PLACES_FIELDS]
    label_columns = LABELS
    order_columns = ["annee", "places_autorisees"]
    base_order = ("annee", "desc")


class BudgetAnneeView(ScopedModelView):
    datamodel = interface(BudgetAnnee)
    bhasile_area = "budget"
    list_title = _l("Budgets par année")
    list_columns = ["structure", *BUDGET_FIELDS]
    add_columns = edit_columns = show_columns = ["structure", *BUDGET_FIELDS]
    label_columns = LABELS
    base_order = ("annee", "desc")


class ActiviteView(ScopedModelView):
    datamodel = interface(ActiviteMensuelle)
    bhasile_area = "activite"
    list_title = _l("Activité mensuelle")
    list_columns = ["structure", "mois", "places_autorisees", "places_occupees",
                    "places_vacantes", "places_indisponibles", "presences_indues_bpi",
                    "presences_indues_deboutes"]
    add_columns = edit_columns = show_columns = list_columns
    label_columns = LABELS
    base_order = ("mois", "desc")


class StructureView(ScopedModelView):
    datamodel = interface(Structure)
    bhasile_area = "structure"
    list_title = _l("Structures")
    show_title = _l("Fiche structure")
    add_title = _l("Nouvelle structure")
    edit_title = _l("Modifier la structure")
    list_columns = ["code_dna", "nom", "type", "operateur", "departement", "commune",
                    "fin_convention"]
    search_columns = ["code_dna", "nom", "type", "operateur", "departement", "commune",
                      "code_postal", "code_finess", "public", "fin_convention"]
    show_fieldsets = [
        (_l("Identité"), {"fields": ["code_dna", "nom", "type", "operateur", "filiale",
                                     "departement", "public", "code_finess"]}),
        (_l("Adresse administrative"), {"fields": ["adresse_administrative", "code_postal",
                                                   "commune", "latitude", "longitude"]}),
        (_l("Calendrier"), {"fields": ["date_creation", "date_303", "debut_autorisation",
                                       "fin_autorisation", "debut_convention", "fin_convention"]}),
        (_l("Publics spécifiques"), {"fields": ["lgbt", "fvv_teh", "notes"]}),
    ]
    add_columns = edit_columns = STRUCTURE_FIELDS
    label_columns = LABELS
    base_order = ("code_dna", "asc")
    related_views = [PlacesAnneeView, BudgetAnneeView, ActiviteView]
    add_form_query_rel_fields = edit_form_query_rel_fields = {
        "departement": departement_choices_filter(),
    }


class StructureApi(ScopedModelApi):
    resource_name = "structure"
    datamodel = interface(Structure)
    list_columns = ["id", "code_dna", "nom", "type", "operateur.nom", "departement.code",
                    "commune", "fin_convention", "version"]
    show_columns = ["id", *[f for f in STRUCTURE_FIELDS if f not in ("operateur", "departement")],
                    "operateur.nom", "departement.code", "version"]
    add_columns = edit_columns = STRUCTURE_FIELDS


MENU_ORDER = 10


def register(add, appbuilder) -> None:
    parc = ("Parc", _l("Parc"))
    add(StructureView, "Structures", _l("Structures"), *parc, icon="fa-home")
    suivi = ("Suivi", _l("Suivi annuel"))
    add(PlacesAnneeView, "Places", _l("Places par année"), *suivi, icon="fa-bed")
    add(BudgetAnneeView, "Budgets", _l("Budgets par année"), *suivi, icon="fa-euro")
    add(ActiviteView, "Activité", _l("Activité mensuelle"), *suivi, icon="fa-line-chart")
    appbuilder.add_api(StructureApi)
