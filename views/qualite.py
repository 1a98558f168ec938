"""Quality follow-up: inspections (contrôles), evaluations and serious incidents (EIG)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.labels import LABELS
from models import Controle, Eig, Evaluation

from .base import ScopedModelView, interface


class ControleView(ScopedModelView):
    """Inspections of the structures of the territory."""

    datamodel = interface(Controle)
    bhasile_area = "qualite"
    list_title = _l("Contrôles")
    add_title = _l("Ajouter un contrôle")
    edit_title = _l("Modifier le contrôle")
    list_columns = ["structure", "date", "type", "commentaire"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["structure", "date", "type"]
    label_columns = LABELS
    base_order = ("date", "desc")


class EvaluationView(ScopedModelView):
    """Evaluations, scored 0 to 4 on each axis."""

    datamodel = interface(Evaluation)
    bhasile_area = "qualite"
    list_title = _l("Évaluations")
    add_title = _l("Ajouter une évaluation")
    edit_title = _l("Modifier l'évaluation")
    list_columns = ["structure", "date", "note_personnes", "note_professionnels",
                    "note_structure", "note_globale"]
    add_columns = edit_columns = show_columns = [*list_columns, "commentaire"]
    search_columns = ["structure", "date"]
    label_columns = LABELS
    base_order = ("date", "desc")


class EigView(ScopedModelView):
    """Serious adverse events (événements indésirables graves)."""

    datamodel = interface(Eig)
    bhasile_area = "qualite"
    list_title = _l("Événements indésirables graves")
    add_title = _l("Déclarer un EIG")
    edit_title = _l("Modifier l'EIG")
    list_columns = ["structure", "numero", "date_evenement", "date_declaration", "nature"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["structure", "numero", "date_evenement"]
    label_columns = LABELS
    base_order = ("date_evenement", "desc")


MENU_ORDER = 30


def register(add, appbuilder) -> None:
    qualite = ("Qualite", _l("Contrôle qualité"))
    add(ControleView, "Contrôles", _l("Contrôles"), *qualite, icon="fa-check-square-o")
    add(EvaluationView, "Évaluations", _l("Évaluations"), *qualite, icon="fa-star-half-o")
    add(EigView, "EIG", _l("Événements indésirables graves"), *qualite, icon="fa-warning")
