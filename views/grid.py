"""Saisie en grille: spreadsheet-like pages for Structures, Places, Budgets, Activité and Adresses.

Each page is driven by its canonical sheet (``app.sheets``): the columns, their kinds and
labels; rows come page by page from ``/donnees`` (scope, filters, sort on the server; the
first page inside the page's HTML, drawn without waiting for a second request); a save
posts the changed cells to ``/enregistrer`` (``views.grid_save``), the last save can be undone
(``/annuler``), the hidden columns are kept per user (``/colonnes``) and the current view
exported to Excel (``/export``). One view class per sheet, so roles grant each by its area.
"""
from __future__ import annotations

import io
import json

from flask import Response, g, jsonify, request, send_file
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select

from app.extensions import db
from app.gate import may_change, reserved_fields
from app.scope import current_scope
from app.sheets.kinds import Integer, Number, Year
from app.vues import VIEW_ARG
from models import Adresse
from models.grid import GridPreference

from .grid_data import distinct_values, export_grid, grid_page, page_json, parse_period
from .grid_rows import RowAdd, add_fields, delete_rows
from .grid_save import BatchSave, GridRefused
from .grid_specs import SPECS, GridSpec
from .grid_undo import last_save, undo

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def hidden_columns(user_id: int, slug: str) -> list[str]:
    """The columns this user chose to hide on this grid page."""
    pref = db.session.scalar(select(GridPreference).where(GridPreference.user_id == user_id,
                                                          GridPreference.sheet == slug))
    return json.loads(pref.hidden) if pref else []


def column_config(spec: GridSpec, scope) -> list[dict]:
    """What the grid's JavaScript needs per column (from ``Column.grid``) and whether the user
    may edit it: the write gate's answers (the role's right on the area, the fields reserved
    to the State for an opérateur), and the sheet's (not a key, not read-only); a column the
    user may not edit says why (``reason``: the cell's and the header's tooltip)."""
    writable = may_change(scope, spec.sheet.area)
    reserved = {"row": reserved_fields(scope, spec.sheet.model), "parent": reserved_fields(scope, Adresse)}
    out = []
    for column in spec.grid_columns():
        info = column.grid()
        info["choices"] = info["choices"] or None
        state = column.attribute in reserved[column.target]
        info["editable"] = (writable and not column.read_only and column.field not in spec.keys
                            and not state and column.expr is not None)
        info["reason"] = None if info["editable"] else (
            _("Votre rôle ne permet pas de modifier cette grille.") if not writable
            else _("Champ réservé à l'État") if state else _("Colonne en lecture seule"))
        info["key"] = column.field in ("code_dna", "id") and column.field in spec.keys
        info["companion"] = bool(column.source) or column.field == "structure_nom"
        kind = column.kind
        info["unit"] = "€" if isinstance(kind, Number) and kind.num_format.startswith("#,##0") else None
        info["group"] = isinstance(kind, (Integer, Number)) and not isinstance(kind, Year)
        # a fixed width from the kind and the title: the browser never measures every cell
        info["width"] = max(80, min(320, int(getattr(kind, "width", 12) or 12) * 8 + 24),
                            min(260, len(info["label"]) * 8 + 56))
        out.append(info)
    return out


def grid_texts() -> dict[str, str]:
    """The words grid.js writes itself (status line, messages, Tabulator's pagination), in the
    user's language; ``{n}``-style names are filled in by the script."""
    return {
        "filter": _("Filtrer"), "filterOf": _("Filtrer : {title}"), "rowNumber": _("N°"),
        "rowsPerPage": _("Lignes par page"), "edited": _("cellule modifiée"), "row": _("ligne"),
        "empty": _("Aucune ligne dans votre périmètre pour ces filtres."),
        "page": _("Page {page} / {pages} — {rows} ligne(s)."),
        "pasted": _("{cells} cellule(s) collée(s)."),
        "pasteRefused": _("{n} cellule(s) non modifiable(s) laissée(s) telle(s) quelle(s) : {cells}."),
        "pasteBeyond": _("{n} valeur(s) au-delà de la grille ignorée(s)."),
        "rowN": _("ligne {n}"), "column": _("Colonne"),
        "cleared": _("{n} cellule(s) vidée(s)."),
        "nothingToUndo": _("Aucune saisie à annuler."), "nothingToRedo": _("Aucune saisie à rétablir."),
        "undone": _("Saisie annulée ({n} cellule(s))."), "redone": _("Saisie rétablie ({n} cellule(s))."),
        "formulaBad": _("Formule illisible : « {text} » (opérations + - * / %, parenthèses, "
                        "nombres et cellules comme B3)."),
        "formulaRef": _("Formule : la cellule {ref} n'existe pas ou ne contient pas un nombre."),
        "formulaZero": _("Formule : division par zéro."),
        "previousYear": _("N−1 : {value}"),
        "statCount": _("Nombre : {n}"), "statSum": _("Somme : {n}"), "statAverage": _("Moyenne : {n}"),
        "valueFilterOf": _("Filtrer par valeurs : {title}"), "blank": _("(vide)"),
        "valuesMore": _("Seules les {n} valeurs les plus fréquentes sont listées."),
        "apply": _("Appliquer"), "clearFilter": _("Tout afficher"),
        "saveRefused": _("Enregistrement refusé : rien n'a été écrit."),
        "conflictTitle": _("Modifié par quelqu'un d'autre : choisissez la valeur à garder, cellule par cellule"),
        "mine": _("Ma valeur"), "theirs": _("Valeur enregistrée"),
        "conflictApply": _("Garder ces choix"),
        "conflictDone": _("Choix appliqués : {n} cellule(s) à enregistrer."),
        "deleteNeedsRows": _("Sélectionnez au moins une cellule des lignes à supprimer."),
        "confirmDelete": _("Supprimer définitivement {n} ligne(s) ? Cette action ne s'annule pas "
                           "depuis la grille."),
        "fillNeedsRows": _("Sélectionnez au moins deux lignes pour recopier vers le bas."),
        "filled": _("Valeurs recopiées vers le bas."),
        "saving": _("Enregistrement en cours…"),
        "noServer": _("Enregistrement impossible : le serveur ne répond pas."),
        "badAnswer": _("Réponse inattendue du serveur ({status})."),
        "reverted": _("Modifications abandonnées."),
        "confirmUndo": _("Des modifications non enregistrées seront perdues. Continuer ?"),
        "first": _("Première"), "firstTitle": _("Première page"), "last": _("Dernière"),
        "lastTitle": _("Dernière page"), "prev": _("Précédente"), "prevTitle": _("Page précédente"),
        "next": _("Suivante"), "nextTitle": _("Page suivante"), "showing": _("Lignes"),
        "of": _("sur"), "rows": _("lignes"), "pages": _("pages"), "loading": _("Chargement…"),
        "error": _("Erreur"),
    }


class GridView(BaseView):
    """One grid page (subclasses set the sheet's ``slug`` and the roles' ``bhasile_area``)."""

    slug = ""
    default_view = "page"
    grid_page = True    #: ``app.vues`` finds the grid pages by this mark (app never imports views)

    @property
    def spec(self) -> GridSpec:
        return SPECS[self.slug]

    def _config(self, scope, period) -> dict:
        spec, base = self.spec, f"/grille/{self.slug}"
        return {"slug": spec.slug, "title": str(LABELS[spec.slug]), "periodKind": spec.period_kind,
                "locale": str(get_locale() or "fr"), "texts": grid_texts(),
                "period": period.as_dict(), "columns": column_config(spec, scope),
                "hidden": hidden_columns(g.user.id, spec.slug), "csrf": generate_csrf(),
                "canWrite": may_change(scope, spec.sheet.area),
                "addFields": add_fields(spec),
                "urls": {"data": f"{base}/donnees", "save": f"{base}/enregistrer",
                         "undo": f"{base}/annuler", "columns": f"{base}/colonnes",
                         "export": f"{base}/export", "values": f"{base}/valeurs",
                         "add": f"{base}/ajouter", "delete": f"{base}/supprimer"}}

    @expose("/")
    @has_access
    @permission_name("grid_data")
    def page(self):
        scope = current_scope()
        period = parse_period(self.spec, request.args)
        config = self._config(scope, period)
        pages = [(s.slug, str(LABELS[s.slug])) for s in SPECS.values()]
        # the first page's rows in the HTML: drawn without a second request (a saved view
        # filters and sorts first, then asks for its own rows)
        first = None if request.args.get(VIEW_ARG) else page_json(grid_page(self.spec, scope, period, {}))
        return self.render_template("bhasile/grid.html", config=config, spec=self.spec, period=period,
                                    pages=pages, first_rows=Markup(first.decode()) if first else None,
                                    title=_("Saisie en grille"))

    @expose("/donnees")
    @has_access
    @permission_name("grid_data")
    def data(self):
        spec = self.spec
        page = grid_page(spec, current_scope(), parse_period(spec, request.args), request.args)
        return Response(page_json(page), mimetype="application/json")

    @expose("/enregistrer", methods=["POST"])
    @has_access
    @permission_name("grid_data")
    def save(self):
        payload = request.get_json(silent=True)
        period = payload.get("period") if isinstance(payload, dict) else None
        period = parse_period(self.spec, period if isinstance(period, dict) else {})
        try:
            return jsonify(BatchSave(self.spec, current_scope(), period, g.user).run(payload))
        except GridRefused as refused:
            return jsonify(refused.body), refused.status

    @expose("/valeurs")
    @has_access
    @permission_name("grid_data")
    def values(self):
        """The distinct values of one column (with counts) for its Excel-like value filter."""
        spec = self.spec
        found = distinct_values(spec, current_scope(), parse_period(spec, request.args), request.args,
                                str(request.args.get("field") or ""))
        if found is None:
            return jsonify(ok=False, message=_("Colonne inconnue.")), 400
        return Response(json.dumps(found, separators=(",", ":"), ensure_ascii=False, default=str),
                        mimetype="application/json")

    def _json_period(self):
        payload = request.get_json(silent=True)
        period = payload.get("period") if isinstance(payload, dict) else None
        return payload, parse_period(self.spec, period if isinstance(period, dict) else {})

    @expose("/ajouter", methods=["POST"])
    @has_access
    @permission_name("grid_data")
    def add(self):
        payload, period = self._json_period()
        try:
            return jsonify(RowAdd(self.spec, current_scope(), period, g.user).run(payload))
        except GridRefused as refused:
            db.session.rollback()
            return jsonify(refused.body), refused.status

    @expose("/supprimer", methods=["POST"])
    @has_access
    @permission_name("grid_data")
    def delete(self):
        payload, period = self._json_period()
        try:
            return jsonify(delete_rows(self.spec, current_scope(), period, g.user, payload))
        except GridRefused as refused:
            db.session.rollback()
            return jsonify(refused.body), refused.status

    @expose("/annuler", methods=["POST"])
    @has_access
    @permission_name("grid_data")
    def undo(self):
        scope = current_scope()
        if not may_change(scope, self.spec.sheet.area):
            return jsonify(ok=False, message=_("Votre rôle ne permet pas de modifier cette grille.")), 403
        entry = last_save(g.user, self.slug)
        if entry is None:
            return jsonify(ok=False, message=_("Aucun enregistrement de cette grille à annuler.")), 404
        try:
            return jsonify(undo(entry, scope))
        except GridRefused as refused:
            return jsonify(refused.body), refused.status

    @expose("/colonnes", methods=["POST"])
    @has_access
    @permission_name("grid_data")
    def columns(self):
        payload = request.get_json(silent=True) or {}
        known = {c.field for c in self.spec.grid_columns()} - {"code_dna", "id"}
        hidden = sorted({f for f in payload.get("hidden") or [] if f in known})
        pref = db.session.scalar(select(GridPreference).where(
            GridPreference.user_id == g.user.id, GridPreference.sheet == self.slug))
        if pref is None:
            pref = GridPreference(user_id=g.user.id, sheet=self.slug)
            db.session.add(pref)
        pref.hidden = json.dumps(hidden)
        db.session.commit()
        return jsonify(ok=True, hidden=hidden)

    @expose("/export")
    @has_access
    @permission_name("export")
    def export(self):
        spec = self.spec
        out = io.BytesIO()
        export_grid(spec, current_scope(), parse_period(spec, request.args), request.args,
                    hidden_columns(g.user.id, spec.slug), out, g.user.username)
        out.seek(0)
        name = f"grille-{spec.slug}.xlsx"
        return send_file(out, mimetype=XLSX, as_attachment=True, download_name=name)


def _grid(slug: str, area: str) -> type:
    name = f"Grille{slug.capitalize()}View"
    return type(name, (GridView,), {"slug": slug, "bhasile_area": area, "route_base": f"/grille/{slug}",
                                    "__doc__": f"Grid page of the {SPECS[slug].title} sheet."})


GRIDS = [_grid("structures", "structure"), _grid("places", "places"), _grid("budgets", "budget"),
         _grid("activite", "activite"), _grid("adresses", "adresse")]
LABELS = {"structures": _l("Structures"), "places": _l("Places"), "budgets": _l("Budgets"),
          "activite": _l("Activité"), "adresses": _l("Adresses")}
MENU_ORDER = 70


def register(add, appbuilder) -> None:
    for view in GRIDS:
        add(view, f"Grille {view.slug}", LABELS[view.slug], "Saisie en grille",
            _l("Saisie en grille"), icon="fa-table")


__all__ = ["GRIDS", "GridView"]
