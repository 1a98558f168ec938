"""Aide à la tarification: a structure's coût journalier and taux d'encadrement against the
same-type distribution in its région and nationally (quartiles, rank, outliers).

The distributions are anonymous statistics over every structure of the type (medians and
quartiles, never another structure's figures), so an agent can price against the nation
whatever their scope; the structures compared must be in the user's scope.
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import select

from models import AggStructure

from app.extensions import db
from app.pilotage.seuils import outlier, quartiles, seuils

INDICATORS = (("cout_journalier", "cout_journalier_saisi", "cout"),
              ("taux_encadrement", "taux_encadrement_saisi", "encadrement"))


@dataclass
class Position:
    """Where a value sits in a distribution."""

    q1: Optional[float]
    median: Optional[float]
    q3: Optional[float]
    rank: Optional[int]
    n: int
    outlier: bool


@dataclass
class Comparison:
    """One indicator of one structure: computed and typed values, région and national positions."""

    indicator: str
    value: Optional[float]
    saisi: Optional[float]
    region: Position
    national: Position
    hors_seuils: bool
    seuil_min: float
    seuil_max: float


class Distributions:
    """Every structure's indicator values, by (type, région) and by type."""

    def __init__(self) -> None:
        self.values: dict[tuple, list[float]] = defaultdict(list)
        self._cache: dict[tuple, tuple] = {}
        rows = db.session.execute(select(AggStructure.type, AggStructure.region_id,
                                         AggStructure.cout_journalier, AggStructure.taux_encadrement))
        for type_, region_id, cout, taux in rows:
            for name, value in (("cout_journalier", cout), ("taux_encadrement", taux)):
                if value is not None:
                    self.values[(name, type_, region_id)].append(value)
                    self.values[(name, type_, None)].append(value)

    def _stats(self, key: tuple) -> tuple:
        """(sorted values, Q1, median, Q3) of a group, computed once."""
        if key not in self._cache:
            values = sorted(self.values.get(key, []))
            self._cache[key] = (values, *quartiles(values))
        return self._cache[key]

    def position(self, name: str, type_: str, region_id: Optional[int],
                 value: Optional[float]) -> Position:
        values, q1, med, q3 = self._stats((name, type_, region_id))
        place = None if value is None else bisect.bisect_left(values, value) + 1
        return Position(q1, med, q3, place, len(values), outlier(value, q1, q3))

    def compare(self, agg: AggStructure) -> list[Comparison]:
        """Both indicators of a structure against its région and the nation."""
        limits = seuils(agg.type)
        result = []
        for name, typed, short in INDICATORS:
            value = getattr(agg, name)
            low, high = limits[f"{short}_min"], limits[f"{short}_max"]
            result.append(Comparison(
                name, value, getattr(agg, typed),
                self.position(name, agg.type, agg.region_id, value),
                self.position(name, agg.type, None, value),
                value is not None and not (low <= value <= high), low, high))
        return result


def is_outlier(comparisons: list[Comparison]) -> bool:
    """Outside the national same-type spread, or outside the configured thresholds."""
    return any(c.national.outlier or c.hors_seuils for c in comparisons)
