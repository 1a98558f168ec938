"""Structures: the list, the fiche and one edit form per section, plus the REST API."""
from __future__ import annotations

from flask import abort, current_app, flash, jsonify, request
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.pilotage import completude
from app.labels import LABELS
from app.scope import current_scope
from app.sheets.canonical import STRUCTURES
from app.vues import visible_columns
from models import Structure

from . import structure_list as sl
from .base import ScopedModelApi, ScopedModelView, interface
from .fiche import Fmt, fiche_context

#: The forms' and the fiche's fields, section by section, as the sheet schema declares them.
DESCRIPTION_FIELDS = STRUCTURES.fields("description")
CALENDRIER_FIELDS = STRUCTURES.fields("calendrier")
STRUCTURE_FIELDS = DESCRIPTION_FIELDS + CALENDRIER_FIELDS
#: Read-only: the dates of the structure's current convention (edited on the convention).
CONVENTION_FIELDS = STRUCTURES.fields("convention")
#: Description fields the fiche lays out itself (address block, coordinates, flags, notes);
#: every other one is listed under its label.
FICHE_COMPOSED = frozenset({"adresse_administrative", "code_postal", "commune", "latitude",
                            "longitude", "lgbt", "fvv_teh", "notes"})
#: Section → (view, permission) a user needs to see its "Modifier" links on the fiche.
SECTION_VIEWS = {"description": "StructureView", "calendrier": "StructureCalendrierView",
                 "contacts": "ContactView", "adresses": "AdresseView",
                 "adresse_annee": "AdresseAnneeView", "places": "PlacesAnneeView",
                 "budget": "BudgetAnneeView", "activite": "ActiviteView",
                 "controle": "ControleView", "evaluation": "EvaluationView", "eig": "EigView",
                 "journal": "JournalView"}


def permissions(appbuilder) -> dict[str, dict[str, bool]]:
    """What the current user may do in each section of the fiche."""
    sm = appbuilder.sm
    return {section: {perm: sm.has_access(f"can_{perm}", view) for perm in ("add", "edit", "delete", "list")}
            for section, view in SECTION_VIEWS.items()}


def _export_url():
    """The "Exporter" button's target when the export area is installed (views/exports.py)."""
    if "ExportView.view" not in current_app.view_functions:
        return None
    from flask import url_for

    return url_for("ExportView.view", view_name="StructureView", **request.args.to_dict(flat=False))


class StructureView(ScopedModelView):
    """The structures of the territory: list with filters, fiche, Description form."""

    datamodel = interface(Structure)
    bhasile_area = "structure"
    list_title = _l("Structures")
    show_title = _l("Fiche structure")
    add_title = _l("Nouvelle structure")
    edit_title = _l("Modifier la description de la structure")
    list_columns = sl.COLUMNS
    search_columns = ["code_dna", "nom", "type", "operateur", "departement", "commune",
                      "code_postal", "code_finess", "public"]
    order_columns = list(sl.SORTS)
    add_columns = STRUCTURE_FIELDS
    edit_columns = DESCRIPTION_FIELDS
    show_columns = STRUCTURE_FIELDS + CONVENTION_FIELDS
    label_columns = LABELS
    base_order = ("code_dna", "asc")

    @expose("/list/")
    @has_access
    def list(self):
        args = sl.ListArgs.parse(request.args)
        scope = current_scope()
        count, rows = sl.fetch(args, scope)
        return self.render_template(
            "bhasile/structure_list.html", title=self.list_title, rows=rows, count=count,
            args=args, choices=sl.choices(scope, args.operateur), columns=visible_columns(self), labels=LABELS,
            page_sizes=sl.PAGE_SIZES, fmt=Fmt(), options=sl.options, export_url=_export_url(),
            can_add=self.appbuilder.sm.has_access("can_add", "StructureView"),
            appbuilder=self.appbuilder)

    @expose("/operateurs.json")
    @has_access
    @permission_name("list")
    def operateurs(self):
        """The opérateur filter's autocomplete: the first opérateurs of the user's territory
        whose name contains ``q`` — never another territory's."""
        return jsonify({"operateurs": sl.operateur_matches(current_scope(), request.args.get("q") or "")})

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        return self.render_template("bhasile/fiche/structure.html", title=str(item),
                                    can=permissions(self.appbuilder), labels=LABELS,
                                    description_fields=[f for f in DESCRIPTION_FIELDS
                                                        if f not in FICHE_COMPOSED],
                                    has_documents="DocumentView.owner" in current_app.view_functions,
                                    appbuilder=self.appbuilder, **fiche_context(item))


    def post_add(self, item):
        flash_gaps(item)

    def post_update(self, item):
        flash_gaps(item)

    def export_ids(self) -> list[int]:
        """Ids of every structure the list shows with the request's filters and sort (all
        pages): for an export of exactly what the agent filtered."""
        args = sl.ListArgs.parse(request.args)
        args.page, args.psize = 0, 10**6
        return [row.structure.id for row in sl.fetch(args, current_scope())[1]]


def flash_gaps(item: Structure) -> None:
    """After a form save: a fiche missing values is accepted, and the agent told what to
    complete (``app.pilotage.completude``)."""
    values = {n.field: getattr(item, n.column) for n in completude.NEEDS if n.table == "structure"}
    labels = completude.missing_in_row("structure", values, item.type)
    if labels:
        flash(_("Fiche à compléter : %(champs)s.", champs=", ".join(str(x) for x in labels)), "warning")


class StructureCalendrierView(ScopedModelView):
    """The Calendrier section's form: creation, 303 and autorisation dates (the convention's
    are its current convention's, edited on the convention)."""

    datamodel = interface(Structure)
    bhasile_area = "structure"
    route_base = "/structure/calendrier"
    edit_title = _l("Modifier le calendrier de la structure")
    base_permissions = ["can_edit"]
    list_columns = ["code_dna"]
    search_columns = ["code_dna"]
    add_columns = edit_columns = CALENDRIER_FIELDS
    label_columns = LABELS

    def post_update(self, item):
        flash_gaps(item)


class StructureApi(ScopedModelApi):
    """REST API of the structures (same scope, rules and locking as the forms)."""

    resource_name = "structure"
    datamodel = interface(Structure)
    list_columns = ["id", "code_dna", "nom", "type", "operateur.nom", "departement.code",
                    "commune", "fin_convention", "version"]
    show_columns = ["id", *[f for f in STRUCTURE_FIELDS + CONVENTION_FIELDS
                            if f not in ("operateur", "departement")],
                    "operateur.nom", "departement.code", "version"]
    add_columns = edit_columns = STRUCTURE_FIELDS
    search_columns = ["code_dna", "nom", "type", "commune", "code_postal", "code_finess"]


MENU_ORDER = 10


def register(add, appbuilder) -> None:
    parc = ("Parc", _l("Parc"))
    add(StructureView, "Structures", _l("Structures"), *parc, icon="fa-home")
    appbuilder.add_view_no_menu(StructureCalendrierView)
    appbuilder.add_api(StructureApi)
