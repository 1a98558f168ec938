"""Carte des structures: Leaflet over the départements' outline (vendored), tiles from
BHASILE_TILE_URL (optional), filters by type, opérateur, région and département.

The map asks ``/carte/clusters.json`` for what its view shows at its zoom: clusters counted
by the database on a grid of the zoom level, the single structures with their key facts, and
the first structures of the view for the accessible list — never the whole park.
``/carte/structures.json`` (every structure of the filters) stays for other clients."""
from __future__ import annotations

from flask import current_app, jsonify, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
import math

from sqlalchemy import false, func, or_, select

from app.pilotage import carte_grid
from app.pilotage.carte_grid import counted_cells
from app.extensions import db
from app.scope import condition_for, current_scope, structure_condition
from models import AggCarte, AggStructure, Departement, Operateur, Region, Structure

from . import structure_list as sl

#: The filters the map takes (the structure list's, same names): a link keeps them.
FILTERS = ("type", "region", "departement", "operateur")


def map_args(args) -> sl.ListArgs:
    """The map's filters from a query string (anything else is ignored)."""
    parsed = sl.ListArgs.parse(args)
    return sl.ListArgs(types=parsed.types, region=parsed.region, departement=parsed.departement,
                       operateur=parsed.operateur)


def markers(scope, args: sl.ListArgs | None = None, *where, limit: int | None = None) -> list[dict]:
    """The structures in scope (and in the filters, and ``where``) that have coordinates, with
    their key facts."""
    conditions = [*(args.conditions() if args else []), *where]
    rows = db.session.execute(
        select(Structure.id, Structure.code_dna, Structure.nom, Structure.type, Structure.commune,
               Structure.latitude, Structure.longitude, Departement.code, Operateur.nom,
               AggStructure.places, AggStructure.taux_occupation)
        .join(Departement, Departement.id == Structure.departement_id)
        .outerjoin(Operateur, Operateur.id == Structure.operateur_id)
        .outerjoin(AggStructure, AggStructure.structure_id == Structure.id)
        .where(structure_condition(scope), Structure.latitude.is_not(None),
               Structure.longitude.is_not(None), *conditions)
        .order_by(Structure.code_dna).limit(limit)).all()
    return [{"id": r[0], "code": r[1], "nom": r[2] or "", "type": r[3].value, "commune": r[4] or "",
             "lat": r[5], "lng": r[6], "dep": r[7], "operateur": r[8] or "", "places": r[9],
             "occupation": None if r[10] is None else round(r[10] * 100, 1),
             "url": url_for("StructureView.show", pk=r[0])} for r in rows]


#: From this zoom on, the structures of the view are sent one by one (streets, no clusters).
DETAIL_ZOOM = 15
MAX_ZOOM = 20
#: Structures listed under the map (the accessible list), the first of the view by code DNA.
LIST_SIZE = 100
#: Single structures sent at most (a view at street level holds a handful).
MAX_SINGLES = 2000
#: The map starts on mainland France when the filters hold structures there.
MAINLAND = (41.0, -5.5, 51.5, 10.0)


class MapRequestError(ValueError):
    """A zoom or frame the map cannot have sent: 400, with a French sentence."""


def parse_view(args) -> tuple[int, tuple[float, float, float, float]]:
    """(zoom, (west, south, east, north)) from ``zoom`` and ``bbox=west,south,east,north``."""
    raw_zoom = (args.get("zoom") or "").strip()
    try:
        zoom = int(raw_zoom)
    except ValueError:
        raise MapRequestError(_("Le niveau de zoom doit être un entier de 0 à %(n)s.", n=MAX_ZOOM)) from None
    if not 0 <= zoom <= MAX_ZOOM:
        raise MapRequestError(_("Le niveau de zoom doit être un entier de 0 à %(n)s.", n=MAX_ZOOM))
    parts = (args.get("bbox") or "").split(",")
    message = _("Le cadre de la carte doit être « ouest,sud,est,nord » en degrés décimaux "
                "(longitudes de -180 à 180, latitudes de -90 à 90).")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise MapRequestError(message) from None
    if not (all(math.isfinite(v) for v in (west, south, east, north))
            and -180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise MapRequestError(message)
    return zoom, (west, south, east, north)


def _grid_conditions(scope, args: sl.ListArgs) -> list | None:
    """The view's filters and scope as conditions on ``agg_carte`` — ``None`` when they are
    not expressible there (an opérateur: its few structures are counted live)."""
    a = AggCarte
    if args.operateur or scope.is_operateur:
        return None
    conds = []
    if not scope.national:
        territory = []
        if scope.departement_ids:
            territory.append(a.departement_id.in_(sorted(scope.departement_ids)))
        if scope.region_ids:
            territory.append(a.region_id.in_(sorted(scope.region_ids)))
        conds.append(or_(*territory) if territory else false())
    if args.types:
        conds.append(a.type.in_(args.types))
    if args.region:
        conds.append(a.region_id == args.region)
    if args.departement:
        conds.append(a.departement_id == args.departement)
    return conds


def _inside_scope(model, ident, scope) -> bool:
    return db.session.scalar(select(model.id).where(model.id == ident, condition_for(model, scope))) is not None


def check_filters(args: sl.ListArgs, scope) -> bool:
    """A région, département or opérateur asked for must be of the user's territory."""
    for model, ident in ((Region, args.region), (Departement, args.departement),
                         (Operateur, args.operateur)):
        if ident is not None and not _inside_scope(model, ident, scope):
            return False
    return True


def clusters(scope, args: sl.ListArgs, zoom: int, bbox: tuple[float, float, float, float],
             fit: bool = False, liste: bool = False) -> dict:
    """What the map shows of the view ``bbox`` at ``zoom``: the structures grouped per cell of
    a grid of ``carte_grid.CELL_PX`` pixels (counted at the rebuild up to
    ``carte_grid.GRID_MAX_ZOOM`` when the filters allow) (count, centre, extent); a cell holding one structure, and
    every structure from ``DETAIL_ZOOM`` on, comes with its key facts; ``liste``: the first
    structures of the view too (the list under the map, when it is open). The answer's size
    follows the cells and structures of the view, not the park."""
    west, south, east, north = bbox
    dialect = db.engine.dialect.name
    where = [structure_condition(scope), Structure.latitude.is_not(None),
             Structure.longitude.is_not(None), *args.conditions()]
    # the view: the cells of the grid it touches (a cluster is not cut at the view's edge)
    size = carte_grid.cell_size(zoom)
    gx = carte_grid.cell_sql(Structure.longitude, zoom, dialect)
    gy = carte_grid.cell_sql(Structure.latitude, zoom, dialect)
    view = [Structure.latitude.between(south - size, north + size),   # indexed
            Structure.longitude.between(west - size, east + size),
            gx.between(carte_grid.cell_py(west, zoom, dialect), carte_grid.cell_py(east, zoom, dialect)),
            gy.between(carte_grid.cell_py(south, zoom, dialect), carte_grid.cell_py(north, zoom, dialect))]
    base = select(Structure.id)
    if args.region:  # the only filter on another table
        base = base.join(Departement, Departement.id == Structure.departement_id)
    out: dict = {"zoom": zoom, "clusters": [], "structures": []}
    if fit:  # a new set of filters: how many structures they hold, and where
        out["total"] = db.session.scalar(base.with_only_columns(func.count(Structure.id)).where(*where))
        out["extent"] = _extent(base, where)
    counted = _grid_conditions(scope, args) if zoom <= carte_grid.GRID_MAX_ZOOM else None
    if counted is not None and db.session.scalar(select(AggCarte.zoom).limit(1)) is not None:
        # counted at the last rebuild: the cells of the view, whatever the park's size (a
        # park whose aggregates were never built is counted live)
        cells = counted_cells(db.session, zoom, bbox, counted, dialect)
    else:
        cells = [(n, single if n == 1 else None, lat, lng, s_, w_, n_, e_)
                 for n, single, lat, lng, s_, w_, n_, e_ in db.session.execute(
                     base.with_only_columns(
                         func.count(Structure.id), func.min(Structure.id),
                         func.avg(Structure.latitude), func.avg(Structure.longitude),
                         func.min(Structure.latitude), func.min(Structure.longitude),
                         func.max(Structure.latitude), func.max(Structure.longitude))
                     .where(*where, *view).group_by(gx, gy))]
    in_view = sum(c[0] for c in cells)
    out["in_view"] = in_view
    if zoom >= DETAIL_ZOOM and in_view <= MAX_SINGLES:
        singles = list(db.session.scalars(base.where(*where, *view)))
        cells = []
    else:
        singles = [c[1] for c in cells if c[0] == 1 and c[1] is not None][:MAX_SINGLES]
    out["clusters"] = [{"count": n, "lat": round(lat, 5), "lng": round(lng, 5),
                        "bounds": [[s_, w_], [n_, e_]]}
                       for n, _id, lat, lng, s_, w_, n_, e_ in cells if n > 1]
    if singles:
        out["structures"] = markers(scope, None, Structure.id.in_(singles))
    if liste:
        first = list(db.session.scalars(base.where(*where, *view).order_by(Structure.code_dna)
                                        .limit(LIST_SIZE)))
        out["liste"] = markers(scope, None, Structure.id.in_(first)) if first else []
    return out


def _extent(base, where) -> list | None:
    """South-west and north-east corners of the structures, on mainland France when some are."""
    south, west, north, east = MAINLAND
    for extra in ([Structure.latitude.between(south, north), Structure.longitude.between(west, east)], []):
        row = db.session.execute(base.with_only_columns(
            func.min(Structure.latitude), func.min(Structure.longitude),
            func.max(Structure.latitude), func.max(Structure.longitude)).where(*where, *extra)).one()
        if row[0] is not None:
            return [[row[0], row[1]], [row[2], row[3]]]
    return None


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
            choices=sl.choices(scope, args.operateur), options=sl.options,
            source=url_for("CarteView.grouped", **query),
            list_url=url_for("StructureView.list", **query))

    @expose("/structures.json")
    @has_access
    @permission_name("dashboard")
    def data(self):
        return jsonify({"structures": markers(current_scope(), map_args(request.args))})

    @expose("/clusters.json")
    @has_access
    @permission_name("dashboard")
    def grouped(self):
        """The view's clusters and structures: ``zoom``, ``bbox=west,south,east,north`` and the
        filters; ``fit=1`` adds the count and extent of the filtered structures (to frame
        them), ``liste=1`` the first structures of the view (the list under the map)."""
        try:
            zoom, bbox = parse_view(request.args)
        except MapRequestError as exc:
            return jsonify({"message": str(exc)}), 400
        scope, args = current_scope(), map_args(request.args)
        if not check_filters(args, scope):
            return jsonify({"message": _("Cette page n'existe pas ou ne fait pas partie de votre "
                                         "périmètre.")}), 404
        return jsonify(clusters(scope, args, zoom, bbox, fit=request.args.get("fit") == "1",
                                liste=request.args.get("liste") == "1"))


MENU_ORDER = 6


def register(add, appbuilder) -> None:
    add(CarteView, "Carte", _l("Carte des structures"), "Pilotage", _l("Pilotage"), icon="fa-map")
