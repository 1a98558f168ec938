"""Tableaux de bord: national, région, département, opérateur — always within the user's scope."""
from __future__ import annotations

import datetime as dt
from collections import OrderedDict

from flask import Response, abort, redirect, render_template, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from markupsafe import Markup
from werkzeug.routing import BuildError

from app.pilotage.aggregates import last_build
from app.pilotage.charts import xlsx_bytes
from app.pilotage.dashboard_charts import build_charts
from app.extensions import db
from app.jobs import paris
from app.scope import current_scope
from app.pilotage.tableaux import NIVEAUX, Territoire, resolve
from models import Departement, Region

from .dashboard_lists import operateurs_page, structures_page


#: Per-year lists behind the 5-year trends (FAB lists, already limited to the user's scope).
_YEAR_LISTS = {"places": ("PlacesAnneeView.list", "annee"), "budget": ("BudgetAnneeView.list", "annee"),
               "activite": ("ActiviteView.list", "mois")}


def _year_link(terr: Territoire, annee: int, serie: str):
    """The yearly rows behind a trend point; only on the national page, where the scoped list
    shows exactly what the chart sums (other pages: no list can narrow to their territory)."""
    if terr.niveau != "national" or serie not in _YEAR_LISTS:
        return None
    endpoint, column = _YEAR_LISTS[serie]
    if column == "mois":
        args = {"_flt_1_mois": f"{annee - 1}-12-31", "_flt_2_mois": f"{annee + 1}-01-01"}
    else:
        args = {f"_flt_0_{column}": annee}
    try:
        return url_for(endpoint, **args)
    except BuildError:  # that list is not installed
        return None


def make_link(terr: Territoire):
    """The list URL behind a figure: FAB's structure list when its filters suffice, else ours."""

    def link(type=None, alerte=None, echeance=None, niveau=None, code=None, dashboard=False,
             annee=None, serie=None):
        if annee is not None:
            return _year_link(terr, annee, serie)
        if dashboard:
            return url_for("DashboardView.page", niveau=niveau, code=code)
        if alerte or echeance or niveau or terr.niveau == "region":
            args = {"niveau": terr.niveau, "code": terr.code, "type": type, "alerte": alerte,
                    "echeance": echeance, "sous_niveau": niveau, "sous_code": code}
            return url_for("DashboardView.structures", **{k: v for k, v in args.items() if v})
        flt = {}
        if type:
            flt["_flt_0_type"] = type
        if terr.departement_id is not None:
            flt["_flt_0_departement"] = terr.departement_id
        if terr.operateur_id is not None:
            flt["_flt_0_operateur"] = terr.operateur_id
        return url_for("StructureView.list", **flt)

    return link


#: (database, territory, scope, build, day, locale) → (headline, charts): the figures only change
#: with a rebuild, so a page is computed once per build and reused (a few entries per user kind).
_CACHE: OrderedDict[tuple, tuple] = OrderedDict()
CACHE_SIZE = 128


def charts_for(terr: Territoire, today: dt.date) -> tuple[dict, list, Markup]:
    """Headline figures, charts and their rendered HTML, cached per build of the aggregates."""
    built = last_build(db.engine)
    key = (str(db.engine.url), terr.niveau, terr.code, terr.scope, built, today, str(get_locale()))
    if built is not None and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    headline, charts = build_charts(terr, today, make_link(terr))
    body = Markup(render_template("bhasile/_dashboard_body.html", terr=terr, headline=headline,
                                  charts=charts, link=make_link(terr), today=today))
    value = (headline, charts, body)
    if built is not None:
        _CACHE[key] = value
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def _navigation(scope) -> dict:
    """Territories the user may open, for the page's menu."""
    regions = select(Region).order_by(Region.code)
    deps = select(Departement).order_by(Departement.code)
    if not scope.national:
        regions = regions.where(Region.id.in_(sorted(scope.region_ids)))
        deps = deps.where(Departement.id.in_(sorted(scope.departement_ids))
                          | Departement.region_id.in_(sorted(scope.region_ids)))
    return {"regions": db.session.scalars(regions).all(),
            "departements": db.session.scalars(deps).all(),
            "operateur_id": scope.operateur_id if scope.is_operateur else None}


class DashboardView(BaseView):
    """The dashboards and the lists behind their figures."""

    route_base = "/tableaux"
    bhasile_area = "dashboard"
    default_view = "index"

    @expose("/")
    @has_access
    @permission_name("dashboard")
    def index(self):
        scope = current_scope()
        if scope.is_operateur and scope.operateur_id:
            return redirect(url_for(".page", niveau="operateur", code=scope.operateur_id))
        if not scope.national and len(scope.region_ids) == 1 and not scope.departement_ids:
            region = db.session.get(Region, next(iter(scope.region_ids)))
            return redirect(url_for(".page", niveau="region", code=region.code))
        if not scope.national and len(scope.departement_ids) == 1 and not scope.region_ids:
            dep = db.session.get(Departement, next(iter(scope.departement_ids)))
            return redirect(url_for(".page", niveau="departement", code=dep.code))
        return redirect(url_for(".page", niveau="national", code="FR"))

    @expose("/aller/")
    @has_access
    @permission_name("dashboard")
    def aller(self):
        niveau, code = request.args.get("niveau", ""), request.args.get("code", "")
        if niveau not in NIVEAUX or not code:
            return redirect(url_for(".index"))
        return redirect(url_for(".page", niveau=niveau, code=code))

    @expose("/<niveau>/<code>/")
    @has_access
    @permission_name("dashboard")
    def page(self, niveau: str, code: str):
        scope = current_scope()
        terr = resolve(niveau, code, scope)
        today = dt.date.today()
        _headline, _charts, body = charts_for(terr, today)
        return self.render_template(
            "bhasile/dashboard.html", terr=terr, body=body,
            built=last_build(db.engine), paris=paris, today=today, nav=_navigation(scope),
            link=make_link(terr), title=_("Tableau de bord"))

    @expose("/<niveau>/<code>/xlsx/<key>")
    @has_access
    @permission_name("download")
    def xlsx(self, niveau: str, code: str, key: str):
        terr = resolve(niveau, code, current_scope())
        _headline, charts, _body = charts_for(terr, dt.date.today())
        chart = next((c for c in charts if c.key == key), None) or abort(404)
        subtitle = f"{terr.label} — {dt.date.today():%d/%m/%Y}"
        if terr.limited:
            subtitle += " — " + _("limité à votre périmètre")
        return Response(xlsx_bytes(chart, subtitle), headers={
            "Content-Disposition": f'attachment; filename="bhasile-{terr.niveau}-{terr.code}-{key}.xlsx"'},
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @expose("/structures/")
    @has_access
    @permission_name("dashboard")
    def structures(self):
        return structures_page(self, request.args)

    @expose("/operateurs/")
    @has_access
    @permission_name("dashboard")
    def operateurs(self):
        return operateurs_page(self, request.args)


MENU_ORDER = 5


def register(add, appbuilder) -> None:
    category = ("Pilotage", _l("Pilotage"))
    add(DashboardView, "Tableaux de bord", _l("Tableaux de bord"), *category, icon="fa-bar-chart")
