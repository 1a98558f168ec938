"""Housing addresses of a structure, their places per year, and its contacts."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.labels import LABELS
from app.sheets.canonical import ADRESSES
from models import Adresse, AdresseAnnee, Contact

from .base import ScopedModelView, interface

#: The fields of an address and of its yearly row, read from the Adresses sheet
#: (``app.sheets.canonical``): a new column there is in these forms without another line here.
ADRESSE_FIELDS = ADRESSES.record_fields("parent")
ADRESSE_ANNEE_FIELDS = ADRESSES.record_fields()


class AdresseView(ScopedModelView):
    """A housing address of a structure (Description section)."""

    datamodel = interface(Adresse)
    bhasile_area = "adresse"
    list_title = _l("Adresses d'hébergement")
    add_title = _l("Ajouter une adresse")
    edit_title = _l("Modifier l'adresse")
    list_columns = ["structure", *ADRESSE_FIELDS]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["structure", "commune", "code_postal", "repartition"]
    label_columns = LABELS
    base_order = ("commune", "asc")


class AdresseAnneeView(ScopedModelView):
    """Places of one address for one year."""

    datamodel = interface(AdresseAnnee)
    bhasile_area = "adresse"
    list_title = _l("Places par adresse et par année")
    add_title = _l("Ajouter une année à l'adresse")
    edit_title = _l("Modifier l'année de l'adresse")
    list_columns = ["adresse", *ADRESSE_ANNEE_FIELDS]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["adresse", "annee"]
    label_columns = LABELS
    base_order = ("annee", "desc")


class ContactView(ScopedModelView):
    """A contact person of a structure (Description section)."""

    datamodel = interface(Contact)
    bhasile_area = "contact"
    list_title = _l("Contacts")
    add_title = _l("Ajouter un contact")
    edit_title = _l("Modifier le contact")
    list_columns = ["structure", "type", "prenom", "nom", "role", "email", "telephone"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["structure", "nom", "email"]
    label_columns = LABELS
    base_order = ("nom", "asc")


MENU_ORDER = 14


def register(add, appbuilder) -> None:
    for view in (AdresseView, AdresseAnneeView, ContactView):
        appbuilder.add_view_no_menu(view)
