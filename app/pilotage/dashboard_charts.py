"""The charts of a dashboard, built from ``app.pilotage.tableaux`` figures, each label linked to its list."""
from __future__ import annotations

import datetime as dt
from typing import Callable, Optional

from flask_babel import gettext as _
from sqlalchemy import func, select

from models import AggStructure, Departement, Region

from app.pilotage.aggregates_rollup import ALL_TYPES
from app.pilotage.charts import Chart, Series
from app.extensions import db
from app.pilotage.seuils import TYPES, seuils
from app.pilotage.tableaux import Territoire, current_by_type, echeances, trends

#: ``link(type=None, alerte=None, echeance=None, niveau=None, code=None)`` → URL of the list.
LinkFn = Callable[..., Optional[str]]


def _types(current: dict) -> list[str]:
    return [t for t in TYPES if t in current]


def build_charts(terr: Territoire, today: dt.date, link: LinkFn) -> tuple[dict, list[Chart]]:
    """(headline figures, charts) of a dashboard."""
    current = current_by_type(terr, today.year)
    types = _types(current)
    years = list(range(today.year - 4, today.year + 1))
    trend = trends(terr, years)
    charts = [
        Chart("places", _("Structures et places autorisées par type"), types,
              [Series(_("Places autorisées"), [current[t]["places"] for t in types]),
               Series(_("Structures"), [current[t]["structures"] for t in types], axis="y1")],
              links=[link(type=t) for t in types], label_header=_("Type")),
        Chart("occupation", _("Occupation et vacance (12 derniers mois)"), types,
              [Series(_("Taux d'occupation"), [current[t]["taux_occupation"] for t in types], "%"),
               Series(_("Taux de vacance"), [current[t]["taux_vacance"] for t in types], "%")],
              links=[link(type=t, alerte="occupation") for t in types], label_header=_("Type")),
        _indues_chart(current.get(ALL_TYPES, {}), link),
        Chart("cout", _("Coût journalier par type (quartiles, année en cours)"), types,
              [Series(_("1er quartile"), [current[t]["cout_q1"] for t in types], "€"),
               Series(_("Médiane"), [current[t]["cout_median"] for t in types], "€"),
               Series(_("3e quartile"), [current[t]["cout_q3"] for t in types], "€")],
              links=[link(type=t, alerte="cout") for t in types], label_header=_("Type")),
        _echeances_chart(terr, today, link),
        *_trend_charts(trend, years, types, link),
    ]
    sub = _sub_territories(terr, link)
    if sub is not None:
        charts.append(sub)
    return _headline(current), charts


def _headline(current: dict) -> dict:
    total = current.get(ALL_TYPES)
    if not total:
        return {}
    return {"structures": total["structures"], "places": total["places"],
            "places_adresses": total["places_adresses"], "dotation": total["dotation_accordee"],
            "taux_occupation": total["taux_occupation"], "taux_indues": total["taux_indues"],
            "cout_median": total["cout_median"], "alerte_occupation": total["alerte_occupation"],
            "alerte_indues": total["alerte_indues"], "alerte_ecart": total["alerte_ecart"]}


def _indues_chart(total: dict, link: LinkFn) -> Chart:
    items = [("bpi", _("Présences indues BPI"), "plafond_bpi"),
             ("deboutes", _("Présences indues déboutés"), "plafond_deboutes"),
             ("indues", _("Présences indues (total)"), "plafond_indues"),
             ("vacance", _("Places vacantes"), "plafond_vacantes"),
             ("indisponibles", _("Places indisponibles"), "plafond_indisponibles")]
    alert = {"vacance": "vacantes"}
    limits = seuils(ALL_TYPES)  # the ceilings set for every type
    return Chart("indues", _("Présences indues et vacance face aux plafonds (% des places)"),
                 [label for _k, label, _p in items],
                 [Series(_("Taux constaté"), [total.get(f"taux_{k}") for k, _l, _p in items], "%"),
                  Series(_("Plafond recommandé"), [limits[p] for _k, _l, p in items], "%",
                         style="marks")],
                 links=[link(alerte=alert.get(k, k)) for k, _l, _p in items],
                 label_header=_("Indicateur"))


def _echeances_chart(terr: Territoire, today: dt.date, link: LinkFn) -> Chart:
    rows = echeances(terr, today)
    return Chart("echeances", _("Conventions arrivant à échéance"),
                 [_("d'ici %(n)s mois", n=m) for m, _d, _c in rows],
                 [Series(_("Structures"), [c for _m, _d, c in rows])],
                 links=[link(echeance=m) for m, _d, _c in rows], label_header=_("Échéance"))


def _trend_charts(trend: dict, years: list[int], types: list[str], link: LinkFn) -> list[Chart]:
    labels = [str(y) for y in years]

    def values(type_, key):
        return [trend.get((y, type_), {}).get(key) for y in years]

    return [
        Chart("tendance_places", _("Places autorisées sur 5 ans, par type"), labels,
              [Series(t, values(t, "places")) for t in types], stacked=True,
              links=[link(annee=y, serie="places") for y in years], label_header=_("Année")),
        Chart("tendance_dotation", _("Dotation accordée et coût journalier médian sur 5 ans"), labels,
              [Series(_("Dotation accordée"), values(ALL_TYPES, "dotation_accordee"), "€"),
               Series(_("Coût journalier médian"), values(ALL_TYPES, "cout_median"), "€",
                      kind="line", axis="y1")],
              links=[link(annee=y, serie="budget") for y in years], label_header=_("Année")),
        Chart("tendance_occupation", _("Occupation et présences indues sur 5 ans"), labels,
              [Series(_("Taux d'occupation"), values(ALL_TYPES, "taux_occupation"), "%"),
               Series(_("Présences indues"), values(ALL_TYPES, "taux_indues"), "%")],
              kind="line", links=[link(annee=y, serie="activite") for y in years],
              label_header=_("Année")),
    ]


def _sub_territories(terr: Territoire, link: LinkFn) -> Optional[Chart]:
    a = AggStructure
    if terr.niveau == "national":
        key, model, col, niveau = "regions", Region, a.region_id, "region"
        title = _("Par région")
    elif terr.niveau in ("region", "operateur"):
        key, model, col, niveau = "departements", Departement, a.departement_id, "departement"
        title = _("Par département")
    else:
        return None
    rows = db.session.execute(
        select(model.code, model.nom, func.count(), func.sum(a.places), func.sum(a.act_occupees),
               func.sum(a.act_disponibles))
        .join(model, model.id == col).where(terr.condition())
        .group_by(model.code, model.nom).order_by(model.code)).all()
    return Chart(key, title, [f"{code} – {nom}" for code, nom, *_r in rows],
                 [Series(_("Places autorisées"), [r[3] for r in rows]),
                  Series(_("Taux d'occupation"), [(r[4] or 0) / r[5] if r[5] else None for r in rows],
                         "%", kind="line", axis="y1")],
                 links=[link(niveau=niveau, code=r[0], dashboard=terr.niveau != "operateur")
                        for r in rows],
                 label_header=title)
