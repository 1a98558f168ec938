"""Indicators computed for the fiche of a structure (domain.md, "Indicators and rules").

Plain functions over the rows of one structure: places of the latest year, écart with the
addresses, résultat net, coût journalier and taux d'encadrement computed beside the typed
values, monthly occupancy against the ceilings, and the calendar of each period.
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Optional

from flask_babel import lazy_gettext as _l

from app.pilotage.seuils import seuils

#: The thresholds ``app.pilotage.seuils`` (configurable) does not set.
_FALLBACK_SEUILS = {"ecart_max": 0.10, "plafond_bpi": 0.03, "plafond_deboutes": 0.04,
                    "plafond_indues": 0.07, "plafond_vacantes": 0.03,
                    "plafond_indisponibles": 0.03, "cout_min": 15.0, "cout_max": 25.0,
                    "encadrement_min": 15.0, "encadrement_max": 25.0, "occupation_min": 0.85}


def seuils_for(type_code: Optional[str]) -> dict[str, float]:
    """Thresholds for a structure type (configurable in ``app.pilotage.seuils``)."""
    return {**_FALLBACK_SEUILS, **seuils(type_code or "")}


def latest(rows: Iterable[Any], attr: str = "places_autorisees") -> tuple[Optional[int], Optional[int]]:
    """(année, value) of the latest year that has a value."""
    best = None
    for row in rows:
        if getattr(row, attr) is not None and (best is None or row.annee > best.annee):
            best = row
    return (best.annee, getattr(best, attr)) if best else (None, None)


def places_from_addresses(adresses: Iterable[Any]) -> Optional[int]:
    """Sum over the addresses of their latest year's places (None without any figure)."""
    total, seen = 0, False
    for adresse in adresses:
        _year, value = latest(adresse.annees)
        if value is not None:
            total, seen = total + value, True
    return total if seen else None


@dataclass
class Ecart:
    """Places of the structure minus places declared on its addresses."""

    places: Optional[int]
    from_addresses: Optional[int]
    ecart: Optional[int]
    ratio: Optional[float]
    alert: bool


def ecart_adresses(places: Optional[int], from_addresses: Optional[int],
                   threshold: float = 0.10) -> Ecart:
    if places is None or from_addresses is None:
        return Ecart(places, from_addresses, None, None, False)
    ecart = places - from_addresses
    ratio = abs(ecart) / places if places else None
    return Ecart(places, from_addresses, ecart, ratio, bool(ratio is not None and ratio > threshold))


def resultat_net(produits: Optional[Decimal], charges: Optional[Decimal]) -> Optional[Decimal]:
    """Total produits − total charges (> 0 excédent, < 0 déficit), when both are known."""
    if produits is None or charges is None:
        return None
    return Decimal(produits) - Decimal(charges)


def cout_journalier(dotation: Optional[Decimal], places: Optional[int], annee: int) -> Optional[float]:
    """Dotation accordée / (places autorisées × days in the year)."""
    if dotation is None or not places:
        return None
    days = 366 if calendar.isleap(annee) else 365
    return float(dotation) / (places * days)


def taux_encadrement(places: Optional[int], etp: Optional[Decimal]) -> Optional[float]:
    """Places autorisées / ETP: places managed by one full-time equivalent."""
    if places is None or not etp:
        return None
    return places / float(etp)


def outside(value: Optional[float], low: float, high: float) -> bool:
    return value is not None and not low <= value <= high


@dataclass
class Occupation:
    """One month of activity and its ratios (% of places autorisées) against the ceilings."""

    row: Any
    disponibles: Optional[int]
    taux: Optional[float]
    ratios: dict[str, Optional[float]]
    over: set[str]


def occupation(row: Any, s: dict[str, float]) -> Occupation:
    places = row.places_autorisees
    dispo = None if places is None else places - (row.places_indisponibles or 0)
    taux = row.places_occupees / dispo if dispo and row.places_occupees is not None else None
    values = {"bpi": row.presences_indues_bpi, "deboutes": row.presences_indues_deboutes,
              "indues": (row.presences_indues_bpi or 0) + (row.presences_indues_deboutes or 0),
              "vacantes": row.places_vacantes, "indisponibles": row.places_indisponibles}
    ratios = {k: (v / places if places and v is not None else None) for k, v in values.items()}
    over = {k for k, r in ratios.items() if r is not None and r > s[f"plafond_{k}"]}
    return Occupation(row, dispo, taux, ratios, over)


@dataclass
class Period:
    """A period (autorisation, convention, CPOM) as the calendar section shows it."""

    label: str
    debut: Optional[dt.date]
    fin: Optional[dt.date]
    elapsed: Optional[float]
    badge: Optional[str]


def period(label: str, debut: Optional[dt.date], fin: Optional[dt.date],
           today: Optional[dt.date] = None) -> Period:
    """Elapsed share of the period; badge "Expirée" (ended) or "< 3 mois" (ends soon)."""
    today = today or dt.date.today()
    elapsed = None
    if debut and fin and fin > debut:
        elapsed = min(1.0, max(0.0, (today - debut).days / (fin - debut).days))
    badge = None
    if fin and fin < today:
        badge = str(_l("Expirée"))
    elif fin and fin <= add_months(today, 3):
        badge = str(_l("< 3 mois"))
    return Period(label, debut, fin, elapsed, badge)


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_since(day: Optional[dt.date], today: Optional[dt.date] = None) -> Optional[int]:
    """Whole months elapsed since ``day`` (e.g. since the last inspection)."""
    if day is None:
        return None
    today = today or dt.date.today()
    months = (today.year - day.year) * 12 + today.month - day.month
    return months - (1 if today.day < day.day else 0)


def bati(repartitions: Iterable[Any]) -> Optional[str]:
    """DIFFUS, COLLECTIF, or MIXTE when a structure has both kinds of addresses."""
    kinds = {getattr(r, "value", r) for r in repartitions if r is not None}
    if not kinds:
        return None
    return "MIXTE" if len(kinds) > 1 else kinds.pop()
