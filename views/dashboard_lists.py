"""The lists behind dashboard figures: structures by territory, type, alert or échéance; opérateurs."""
from __future__ import annotations

import datetime as dt
from typing import Mapping

from flask import abort
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.pilotage.aggregates_rollup import ALERTS, OPERATEUR_COLS, operateur_select
from app.extensions import db
from app.scope import current_scope, structure_ids
from app.pilotage.seuils import TYPES
from app.pilotage.tableaux import add_months, resolve, structure_condition_in
from models import AggOperateur, AggStructure, Departement, Operateur, Structure

PAGE_SIZE = 100
ALERT_LABELS = {
    "ecart": _l("Écart places / adresses > 10 %"), "occupation": _l("Occupation sous le seuil"),
    "bpi": _l("Présences indues BPI au-dessus du plafond"),
    "deboutes": _l("Présences indues déboutés au-dessus du plafond"),
    "indues": _l("Présences indues au-dessus du plafond"), "vacantes": _l("Vacance au-dessus du plafond"),
    "indisponibles": _l("Indisponibilité au-dessus du plafond"),
    "cout": _l("Coût journalier hors fourchette"), "encadrement": _l("Taux d'encadrement hors fourchette"),
}


def _page_number(args: Mapping) -> int:
    value = args.get("page", "1")
    return max(1, int(value)) if str(value).isdigit() else 1


def structures_page(view, args: Mapping):
    """Structures of a territory ∩ scope, narrowed by type, alert, échéance or sub-territory."""
    terr = resolve(args.get("niveau", "national"), args.get("code", "FR"), current_scope())
    conds = [structure_condition_in(terr)]
    filters = []
    type_ = args.get("type")
    if type_:
        if type_ not in TYPES:
            abort(404)
        conds.append(Structure.type == type_)
        filters.append(_("Type : %(t)s", t=type_))
    alerte = args.get("alerte")
    if alerte:
        if f"alerte_{alerte}" not in ALERTS:
            abort(404)
        conds.append(getattr(AggStructure, f"alerte_{alerte}").is_(True))
        filters.append(str(ALERT_LABELS[alerte]))
    echeance = args.get("echeance")
    if echeance:
        if echeance not in ("3", "6", "12"):
            abort(404)
        today = dt.date.today()
        conds += [Structure.fin_convention >= today,
                  Structure.fin_convention <= add_months(today, int(echeance))]
        filters.append(_("Convention se terminant d'ici %(n)s mois", n=echeance))
    if args.get("sous_niveau") == "departement":
        dep = db.session.scalar(select(Departement).where(Departement.code == args.get("sous_code")))
        if dep is None:
            abort(404)
        conds.append(Structure.departement_id == dep.id)
        filters.append(str(dep))
    query = (select(Structure, AggStructure).outerjoin(AggStructure,
                                                       AggStructure.structure_id == Structure.id)
             .where(*conds))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    page = _page_number(args)
    rows = db.session.execute(query.order_by(Structure.code_dna)
                              .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return view.render_template("bhasile/dashboard_structures.html", terr=terr, rows=rows,
                                total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)),
                                filters=filters, args=dict(args), alert_labels=ALERT_LABELS,
                                title=_("Structures"))


def operateur_rows(scope) -> list[dict]:
    """One row per opérateur in scope; figures limited to the structures in scope."""
    if scope.national:
        rows = db.session.execute(select(AggOperateur, Operateur.nom).join(
            Operateur, Operateur.id == AggOperateur.operateur_id)).all()
        result = [{**{c: getattr(agg, c) for c in OPERATEUR_COLS}, "nom": nom} for agg, nom in rows]
    else:
        query = operateur_select(AggStructure.structure_id.in_(structure_ids(scope)))
        names = dict(db.session.execute(select(Operateur.id, Operateur.nom)).all())
        result = [{**dict(zip(OPERATEUR_COLS, row)), "nom": names.get(row[0], "")}
                  for row in db.session.execute(query)]
    return sorted(result, key=lambda r: (-(r["places"] or 0), r["nom"]))


def operateurs_page(view, args: Mapping):
    """The opérateurs table (per-opérateur aggregates), each linked to its dashboard."""
    scope = current_scope()
    return view.render_template("bhasile/dashboard_operateurs.html", rows=operateur_rows(scope),
                                limited=not scope.national, title=_("Opérateurs"))
