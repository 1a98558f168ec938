"""Saisie en grille: spreadsheet-like pages for Structures, Places, Budgets, Activité and Adresses.

Each page is driven by its canonical sheet (``app.sheets``): the columns, their kinds and
labels; rows come page by page from ``/donnees`` (scope, filters, sort on the server); a save
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
from sqlalchemy import select

from app.extensions import db
from app.gate import may_change, reserved_fields
from app.scope import current_scope
from models import Adresse
from models.grid import GridPreference

from .grid_data import export_grid, grid_page, parse_period
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
        "pasted": _("{rows} ligne(s) collée(s)."),
        "pastedSkipped": _("{rows} ligne(s) collée(s) ; {cells} cellule(s) non modifiable(s) "
                           "ignorée(s)."),
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
                "urls": {"data": f"{base}/donnees", "save": f"{base}/enregistrer",
                         "undo": f"{base}/annuler", "columns": f"{base}/colonnes",
                         "export": f"{base}/export"}}

    @expose("/")
    @has_access
    @permission_name("grid_data")
    def page(self):
        scope = current_scope()
        period = parse_period(self.spec, request.args)
        config = self._config(scope, period)
        pages = [(s.slug, str(LABELS[s.slug])) for s in SPECS.values()]
        return self.render_template("bhasile/grid.html", config=config, spec=self.spec,
                                    period=period, pages=pages, title=_("Saisie en grille"))

    @expose("/donnees")
    @has_access
    @permission_name("grid_data")
    def data(self):
        spec = self.spec
        page = grid_page(spec, current_scope(), parse_period(spec, request.args), request.args)
        return Response(json.dumps(page, separators=(",", ":"), ensure_ascii=False),
                        mimetype="application/json")

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
