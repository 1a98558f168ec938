"""Aide à la tarification: per structure and per opérateur, against région and national peers."""
from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.scope import condition_for, current_scope, structure_condition
from app.pilotage.tarification import Distributions, is_outlier
from models import AggStructure, Operateur, Structure

MAX_OUTLIERS = 200


def _in_scope_structures(*conditions):
    return db.session.execute(
        select(Structure, AggStructure).join(AggStructure, AggStructure.structure_id == Structure.id)
        .where(structure_condition(current_scope()), *conditions).order_by(Structure.code_dna)).all()


class TarificationView(BaseView):
    """Coût journalier and taux d'encadrement compared with same-type structures."""

    route_base = "/tarification"
    bhasile_area = "dashboard"
    default_view = "index"

    @expose("/")
    @has_access
    @permission_name("dashboard")
    def index(self):
        code = (request.args.get("code") or "").strip().upper()
        if code:
            found = _in_scope_structures(Structure.code_dna == code)
            if found:
                return redirect(url_for(".structure", pk=found[0][0].id))
        dist = Distributions()
        rows = [(s, agg, dist.compare(agg)) for s, agg in _in_scope_structures()]
        outliers = [r for r in rows if is_outlier(r[2])]
        return self.render_template("bhasile/tarification_index.html", code=code,
                                    not_found=bool(code), outliers=outliers[:MAX_OUTLIERS],
                                    total=len(outliers), title=_("Aide à la tarification"))

    @expose("/structure/<int:pk>")
    @has_access
    @permission_name("dashboard")
    def structure(self, pk: int):
        found = _in_scope_structures(Structure.id == pk) or abort(404)
        s, agg = found[0]
        return self.render_template("bhasile/tarification.html", structure=s, agg=agg,
                                    comparisons=Distributions().compare(agg),
                                    title=_("Aide à la tarification"))

    @expose("/operateur/<int:pk>")
    @has_access
    @permission_name("dashboard")
    def operateur(self, pk: int):
        op = db.session.scalar(select(Operateur).where(
            Operateur.id == pk, condition_for(Operateur, current_scope()))) or abort(404)
        dist = Distributions()
        rows = [(s, agg, dist.compare(agg)) for s, agg in _in_scope_structures(Structure.operateur_id == pk)]
        return self.render_template("bhasile/tarification_operateur.html", operateur=op, rows=rows,
                                    title=_("Aide à la tarification"))


MENU_ORDER = 8


def register(add, appbuilder) -> None:
    add(TarificationView, "Tarification", _l("Aide à la tarification"), "Pilotage", _l("Pilotage"),
        icon="fa-eur")
