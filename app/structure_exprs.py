"""A structure's computed columns as SQL expressions, correlated to ``Structure``: the places
of its latest year, its bâti, its first commune. The structure list sorts on them and its
export writes them (``exports.list_columns``)."""
from __future__ import annotations

from sqlalchemy import String, case, func, select, type_coerce

from models import Adresse, PlacesAnnee, Structure


def places_expr():
    """Places autorisées of the structure's latest year (correlated scalar subquery)."""
    return (select(PlacesAnnee.places_autorisees)
            .where(PlacesAnnee.structure_id == Structure.id,
                   PlacesAnnee.places_autorisees.is_not(None))
            .order_by(PlacesAnnee.annee.desc()).limit(1)
            .correlate(Structure).scalar_subquery())


def bati_expr():
    """DIFFUS / COLLECTIF / MIXTE from the structure's addresses."""
    rep = type_coerce(Adresse.repartition, String)  # compared with "MIXTE", not an enum value
    low = select(func.min(rep)).where(Adresse.structure_id == Structure.id)
    high = select(func.max(rep)).where(Adresse.structure_id == Structure.id)
    low, high = low.correlate(Structure).scalar_subquery(), high.correlate(Structure).scalar_subquery()
    return case((low != high, "MIXTE"), else_=low)


def communes_expr():
    """First commune of the structure's addresses, alphabetically (to sort on)."""
    return (select(func.min(Adresse.commune)).where(Adresse.structure_id == Structure.id)
            .correlate(Structure).scalar_subquery())
