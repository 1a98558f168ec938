"""Conventions, CPOMs and arrêtés: statut workflow, structures covered, montant, expiry."""
from __future__ import annotations

from flask import current_app
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import Select2ManyWidget
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select

from app.extensions import db
from app.pilotage.indicators import period
from app.jinja import fr_date
from app.labels import LABELS
from app.scope import condition_for, current_scope, structure_condition
from app.sheets.canonical import CONVENTIONS
from models import Convention, ConventionStructure, Structure

from .base import ScopedModelApi, ScopedModelView, interface

#: A convention's fields, read from the Conventions sheet (``app.sheets.canonical``), and its
#: notes, which the forms keep but the workbook does not carry.
FIELDS = [*CONVENTIONS.record_fields(), "notes"]
COVERED = "structures_couvertes"


def _structures_in_scope():
    return db.session.query(Structure).filter(structure_condition(current_scope())).order_by(Structure.code_dna)


def echeance(fin) -> Markup:
    """End date of a convention with its alert: "Expirée" or "< 3 mois"."""
    badge = period("", None, fin).badge
    label = escape(fr_date(fin))
    if badge:
        label += Markup(' <span class="fr-badge fr-badge--warning fr-badge--sm">%s</span>') % badge
    return label


class ConventionStructureView(ScopedModelView):
    """A structure covered by a convention, with its entry and exit years (CPOM)."""

    datamodel = interface(ConventionStructure)
    bhasile_area = "convention"
    list_title = _l("Structures couvertes")
    add_title = _l("Ajouter une structure à la convention")
    edit_title = _l("Modifier la structure couverte")
    list_columns = ["convention", "structure", "annee_entree", "annee_sortie"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["convention", "structure"]
    label_columns = LABELS


class ConventionView(ScopedModelView):
    """The contracts behind the funding, as the territory's agents follow them."""

    datamodel = interface(Convention)
    bhasile_area = "convention"
    list_title = _l("Conventions et CPOM")
    show_title = _l("Convention")
    add_title = _l("Nouvelle convention")
    edit_title = _l("Modifier la convention")
    list_columns = ["reference", "type", "operateur", "statut", "date_debut", "date_fin",
                    "montant"]
    show_columns = FIELDS
    add_columns = [*FIELDS, COVERED]
    edit_columns = FIELDS
    search_columns = ["reference", "type", "operateur", "statut", "date_fin"]
    order_columns = ["reference", "type", "statut", "date_debut", "date_fin", "montant"]
    label_columns = {**LABELS, "date_fin": _l("Fin (échéance)"), COVERED: _l("Structures couvertes")}
    description_columns = {
        "statut": _l("Brouillon → En négociation → Signée → Échue ou Résiliée "
                     "(retour possible de En négociation à Brouillon)."),
        COVERED: _l("Les structures de votre périmètre financées par cette convention."),
    }
    add_form_extra_fields = {COVERED: QuerySelectMultipleField(
        _l("Structures couvertes"), query_func=_structures_in_scope, get_pk_func=lambda s: s.id,
        widget=Select2ManyWidget())}
    formatters_columns = {"date_fin": lambda v: echeance(v)}
    base_order = ("date_fin", "desc")
    related_views = [ConventionStructureView]
    show_template = "bhasile/convention_show.html"

    def render_template(self, template, **kwargs):
        kwargs.setdefault("has_documents", "DocumentView.owner" in current_app.view_functions)
        return super().render_template(template, **kwargs)

    def gate_related(self, form) -> dict:
        """The structures a new convention covers: each must be the agent's (write gate)."""
        if COVERED not in form:
            return {}
        chosen = [s.id for s in form[COVERED].data or []]
        if not chosen and not current_scope().national:
            form[COVERED].errors = [*form[COVERED].errors,
                                    _l("Choisissez au moins une structure de votre périmètre.")]
        return {Structure: chosen}

    def pre_add(self, item):
        for structure in list(getattr(item, COVERED, None) or []):
            item.structures.append(ConventionStructure(structure=structure))


class ConventionApi(ScopedModelApi):
    """REST API of the conventions (same scope, rules and locking as the forms)."""

    resource_name = "convention"
    bhasile_area = "convention"
    datamodel = interface(Convention)
    list_columns = ["id", "reference", "type", "operateur.nom", "statut", "date_debut",
                    "date_fin", "montant", "version"]
    show_columns = [*list_columns, "notes", "structures.id", "structures.annee_entree",
                    "structures.annee_sortie"]
    add_columns = edit_columns = FIELDS
    search_columns = ["reference", "type", "statut", "date_fin"]

    def pre_add(self, item):
        if not current_scope().national:
            from werkzeug.exceptions import BadRequest

            raise BadRequest(str(_l("Hors administration centrale, créez la convention depuis "
                                    "le formulaire, avec les structures qu'elle couvre.")))

    def pre_update(self, item):
        return None

    def pre_get(self, data: dict) -> None:
        """A CPOM's structures outside the territory are not the agent's to see: only the
        links of the territory's structures are listed."""
        links = (data.get("result") or {}).get("structures")
        if not links or current_scope().national:
            return
        inside = set(db.session.scalars(select(ConventionStructure.id).where(
            ConventionStructure.convention_id == data["id"],
            condition_for(ConventionStructure, current_scope()))))
        data["result"]["structures"] = [link for link in links if link.get("id") in inside]


MENU_ORDER = 25


def register(add, appbuilder) -> None:
    add(ConventionView, "Conventions", _l("Conventions et CPOM"), "Parc", _l("Parc"),
        icon="fa-file-text-o")
    appbuilder.add_view_no_menu(ConventionStructureView)
    appbuilder.add_api(ConventionApi)
