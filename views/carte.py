"""Carte des structures: Leaflet + marker clustering over the départements' outline (vendored),
tiles from BHASILE_TILE_URL (optional), filters by type, opérateur, région and département."""
from __future__ import annotations

from flask import current_app, jsonify, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.extensions import db
from app.scope import current_scope, structure_condition
from models import AggStructure, Departement, Operateur, Structure

from . import structure_list as sl

#: The filters the map takes (the structure list's, same names): a link keeps them.
FILTERS = ("type", "region", "departement", "operateur")


def map_args(args) -> sl.ListArgs:
    """The map's filters from a query string (anything else is ignored)."""
    parsed = sl.ListArgs.parse(args)
    return sl.ListArgs(types=parsed.types, region=parsed.region, departement=parsed.departement,
                       operateur=parsed.operateur)


def markers(scope, args: sl.ListArgs | None = None) -> list[dict]:
    """The structures in scope (and in the filters) that have coordinates, with their key facts."""
    conditions = args.conditions() if args else []
    rows = db.session.execute(
        select(Structure.id, Structure.code_dna, Structure.nom, Structure.type, Structure.commune,
               Structure.latitude, Structure.longitude, Departement.code, Operateur.nom,
               AggStructure.places, AggStructure.taux_occupation)
        .join(Departement, Departement.id == Structure.departement_id)
        .outerjoin(Operateur, Operateur.id == Structure.operateur_id)
        .outerjoin(AggStructure, AggStructure.structure_id == Structure.id)
        .where(structure_condition(scope), Structure.latitude.is_not(None),
               Structure.longitude.is_not(None), *conditions)
        .order_by(Structure.code_dna)).all()
    return [{"id": r[0], "code": r[1], "nom": r[2] or "", "type": r[3].value, "commune": r[4] or "",
             "lat": r[5], "lng": r[6], "dep": r[7], "operateur": r[8] or "", "places": r[9],
             "occupation": None if r[10] is None else round(r[10] * 100, 1),
             "url": url_for("StructureView.show", pk=r[0])} for r in rows]


class CarteView(BaseView):
    """The map of the structures of the user's territory."""

    route_base = "/carte"
    bhasile_area = "dashboard"
    default_view = "index"

    @expose("/")
    @has_access
    @permission_name("dashboard")
    def index(self):
        scope = current_scope()
        missing = db.session.scalar(select(func.count(Structure.id)).where(
            structure_condition(scope), Structure.latitude.is_(None)))
        args = map_args(request.args)
        query = {k: v for k, v in request.args.lists() if k in FILTERS}
        return self.render_template(
            "bhasile/carte.html", tile_url=current_app.config.get("BHASILE_TILE_URL", ""),
            tile_attribution=current_app.config.get("BHASILE_TILE_ATTRIBUTION", ""),
            missing=missing, title=_("Carte des structures"), args=args,
            choices=sl.choices(scope), options=sl.options,
            source=url_for("CarteView.data", **query))

    @expose("/structures.json")
    @has_access
    @permission_name("dashboard")
    def data(self):
        return jsonify({"structures": markers(current_scope(), map_args(request.args))})


MENU_ORDER = 6


def register(add, appbuilder) -> None:
    add(CarteView, "Carte", _l("Carte des structures"), "Pilotage", _l("Pilotage"), icon="fa-map")
