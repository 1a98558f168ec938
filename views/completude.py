"""« Complétude des fiches »: per région, the share of complete fiches for each of the five
years and each section (documents included), per département, with a drill-down to the
structures — always within the user's scope (another territory's page is a 404)."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from flask import redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.pilotage import completude
from app.pilotage.completude_stats import FICHE, by_departement, indicator, rows
from app.extensions import db
from app.scope import current_scope, structure_condition
from app.pilotage.tableaux import resolve, structure_condition_in
from models import Departement, Region


def _year(years: list[int]) -> int:
    """The year asked for (``?annee=``), the current one when absent or not one of the five."""
    asked = request.args.get("annee", "")
    return int(asked) if asked.isdigit() and int(asked) in years else years[-1]


def _labels() -> dict[str, str]:
    return {FICHE: _("Fiche entière"), **{k: str(v) for k, v in completude.SECTIONS.items()}}


def _departements(ids) -> list[Departement]:
    if not ids:
        return []
    return db.session.scalars(select(Departement).where(Departement.id.in_(sorted(ids)))
                              .order_by(Departement.code)).all()


class CompletudeView(BaseView):
    """How complete the fiches are, région by région: what the roll-out waves follow."""

    route_base = "/completude"
    bhasile_area = "dashboard"
    default_view = "index"

    @expose("/")
    @has_access
    @permission_name("dashboard")
    def index(self):
        scope = current_scope()
        years = completude.shown_years()
        year = _year(years)
        fiches = completude.evaluate(db.session, structure_condition(scope), years)
        deps = {d.id: d for d in _departements({f.departement_id for f in fiches.values()})}
        by_region: dict[int, list] = {}
        for fiche in fiches.values():
            by_region.setdefault(deps[fiche.departement_id].region_id, []).append(fiche)
        regions = db.session.scalars(select(Region).where(Region.id.in_(sorted(by_region)))
                                     .order_by(Region.code)).all() if by_region else []
        if len(regions) == 1 and not scope.national:
            return redirect(url_for(".region", code=regions[0].code))
        lines = [(r, indicator(by_region[r.id], years)) for r in regions]
        return self.render_template(
            "bhasile/completude/index.html", lines=lines, years=years, year=year,
            total=indicator(fiches.values(), years), labels=_labels(), sections=list(_labels()),
            title=_("Complétude des fiches"))

    @expose("/region/<code>/")
    @has_access
    @permission_name("dashboard")
    def region(self, code: str):
        terr = resolve("region", code, current_scope())
        return self._page(terr)

    @expose("/departement/<code>/")
    @has_access
    @permission_name("dashboard")
    def departement(self, code: str):
        terr = resolve("departement", code, current_scope())
        return self._page(terr)

    def _page(self, terr):
        years = completude.shown_years()
        year = _year(years)
        fiches = completude.evaluate(db.session, structure_condition_in(terr), years)
        deps = _departements({f.departement_id for f in fiches.values()})
        groups = by_departement(fiches, years)
        region_code: Optional[str] = None
        if terr.niveau == "departement":
            region_code = db.session.scalar(select(Region.code).where(
                Region.id == terr.obj.region_id))
        return self.render_template(
            "bhasile/completude/territoire.html", terr=terr, years=years, year=year,
            table=rows(indicator(fiches.values(), years)), labels=_labels(),
            sections=list(_labels()), deps=[(d, groups[d.id]) for d in deps],
            fiches=list(fiches.values()) if terr.niveau == "departement" else [],
            region_code=region_code, today=dt.date.today(),
            title=_("Complétude des fiches — %(t)s", t=terr.label))


MENU_ORDER = 6


def register(add, appbuilder) -> None:
    add(CompletudeView, "Complétude des fiches", _l("Complétude des fiches"), "Pilotage",
        _l("Pilotage"), icon="fa-check-square-o")
