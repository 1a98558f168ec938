"""The fiche of a structure: its sections as agents read them, with computed indicators.

``fiche_context`` loads everything the page shows in a fixed number of queries (one per
section), whatever the size of the structure.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.pilotage import completude
from app.pilotage import indicators as ind
from app.extensions import db
from app.historique import entries
from app.scope import current_scope
from models import (ActiviteMensuelle, Adresse, BudgetAnnee, Changement, Controle, Convention,
                    ConventionStructure, Document, Eig, Evaluation, PlacesAnnee, Structure)

HISTORY_ROWS = 200


class Fmt:
    """Number formatting for the fiche's big tables, with the locale's symbols read once.

    Same output as the ``number``/``money``/``percent`` filters (Babel), at a fraction of the
    cost: the fiche formats about a thousand figures.
    """

    def __init__(self) -> None:
        symbols = get_locale().number_symbols
        symbols = symbols.get("latn", symbols) if hasattr(symbols, "get") else symbols
        self.group, self.decimal = symbols["group"], symbols["decimal"]

    def number(self, value: Any, digits: int = 0) -> str:
        if value is None or value == "":
            return "–"
        text = format(Decimal(str(value)), f",.{digits}f")
        return text.replace(",", "\0").replace(".", self.decimal).replace("\0", self.group)

    def money(self, value: Any) -> str:
        return "–" if value is None else f"{self.number(value, 2)} €"

    def percent(self, value: Any, digits: int = 0) -> str:
        return "–" if value is None else f"{self.number(Decimal(str(value)) * 100, digits)} %"


def texts() -> dict[str, str]:
    """Words the fiche repeats on every row, translated once."""
    return {"modifier": _("Modifier"), "oui": _("Oui"), "non": _("Non"), "au": _("au"),
            "plafond": _("au-dessus du plafond"), "non_renseigne": _("Non renseigné")}


def years(today: dt.date | None = None) -> list[int]:
    """The five years a fiche shows: the current one and the four before."""
    year = (today or dt.date.today()).year
    return list(range(year - 4, year + 1))


def _by_year(model: type, structure_id: int) -> dict[int, Any]:
    rows = db.session.scalars(select(model).where(model.structure_id == structure_id))
    return {r.annee: r for r in rows}


def finances(structure: Structure, places: dict[int, PlacesAnnee], shown: list[int]) -> list[dict]:
    """One line per year: the typed budget and what BHasile computes from it."""
    budgets = _by_year(BudgetAnnee, structure.id)
    s = ind.seuils_for(structure.type.value)
    lines = []
    for year in shown:
        b, p = budgets.get(year), places.get(year)
        nb = p.places_autorisees if p else None
        cout = ind.cout_journalier(b.dotation_accordee, nb, year) if b else None
        taux = ind.taux_encadrement(nb, b.etp) if b else None
        lines.append({"annee": year, "budget": b,
                      "resultat": ind.resultat_net(b.total_produits, b.total_charges) if b else None,
                      "cout": cout, "cout_alert": ind.outside(cout, s["cout_min"], s["cout_max"]),
                      "taux": taux, "taux_alert": ind.outside(taux, s["encadrement_min"],
                                                              s["encadrement_max"])})
    return lines


def activite(structure: Structure, today: dt.date) -> list[ind.Occupation]:
    """The last 24 months of activity with their ratios against the ceilings."""
    start = ind.add_months(today.replace(day=1), -23)
    rows = db.session.scalars(
        select(ActiviteMensuelle).where(ActiviteMensuelle.structure_id == structure.id,
                                        ActiviteMensuelle.mois >= start)
        .order_by(ActiviteMensuelle.mois.desc()))
    s = ind.seuils_for(structure.type.value)
    return [ind.occupation(r, s) for r in rows]


def calendrier(structure: Structure, conventions: list[ConventionStructure], today: dt.date) -> list:
    periods = [ind.period("Autorisation", structure.debut_autorisation, structure.fin_autorisation, today),
               ind.period("Convention", structure.debut_convention, structure.fin_convention, today)]
    for link in conventions:
        c = link.convention
        periods.append(ind.period(f"{c.type.label} {c.reference}", c.date_debut, c.date_fin, today))
    return periods


def qualite(structure_id: int, today: dt.date) -> dict:
    controles = db.session.scalars(select(Controle).where(Controle.structure_id == structure_id)
                                   .order_by(Controle.date.desc())).all()
    evaluations = db.session.scalars(select(Evaluation).where(Evaluation.structure_id == structure_id)
                                     .order_by(Evaluation.date.desc())).all()
    eigs = db.session.scalars(select(Eig).where(Eig.structure_id == structure_id)
                              .order_by(Eig.date_evenement.desc())).all()
    last = max([c.date for c in controles] + [e.date for e in evaluations], default=None)
    return {"controles": controles, "evaluations": evaluations, "eigs": eigs,
            "mois_depuis_visite": ind.months_since(last, today), "derniere_visite": last}


def fiche_context(structure: Structure, today: dt.date | None = None) -> dict:
    """Everything the fiche shows, section by section."""
    today = today or dt.date.today()
    shown = years(today)
    places = _by_year(PlacesAnnee, structure.id)
    adresses = db.session.scalars(
        select(Adresse).where(Adresse.structure_id == structure.id)
        .options(selectinload(Adresse.annees)).order_by(Adresse.id)).all()
    year, nb = ind.latest(places.values())
    s = ind.seuils_for(structure.type.value)
    conventions = db.session.scalars(
        select(ConventionStructure).where(ConventionStructure.structure_id == structure.id)
        .options(selectinload(ConventionStructure.convention).selectinload(Convention.operateur))
    ).all()
    history = entries(Changement.structure_id == structure.id, 0, HISTORY_ROWS, current_scope())
    documents = db.session.scalars(select(Document).where(Document.structure_id == structure.id)
                                   .order_by(Document.uploaded_at.desc())).all()
    return {
        "item": structure, "today": today, "years": shown, "places": places,
        "places_latest": nb, "places_year": year, "adresses": adresses,
        "bati": ind.bati(a.repartition for a in adresses),
        "ecart": ind.ecart_adresses(nb, ind.places_from_addresses(adresses), s["ecart_max"]),
        "finances": finances(structure, places, shown), "activite": activite(structure, today),
        "seuils": s, "calendrier": calendrier(structure, conventions, today),
        "conventions": conventions, "qualite": qualite(structure.id, today),
        "documents": documents, "history": history, "scope": current_scope(),
        "completude": completude.for_structure(db.session, structure.id, today),
        "fmt": Fmt(), "T": texts(),
    }
