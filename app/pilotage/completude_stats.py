"""The completeness indicator: what share of the structures of a territory has a complete
fiche, per section and year — the figures that drive the regional roll-out waves.

Computed on request from ``app.pilotage.completude.evaluate`` (a handful of set-based queries for the
whole territory, whatever its number of structures), then counted per département.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from app.pilotage.completude import SECTIONS, YEARLY, Fiche

#: The row of the whole fiche: every section complete (for a year: that year's sections too).
FICHE = "fiche"


@dataclass
class Share:
    """Structures counted and, among them, those complete."""

    complete: int = 0
    total: int = 0

    def count(self, ok: bool) -> None:
        self.total += 1
        self.complete += ok

    @property
    def ratio(self) -> Optional[float]:
        return self.complete / self.total if self.total else None


@dataclass
class Indicator:
    """Shares per (section, year) — year ``None`` for Description and Calendrier, counted
    once — for one group of structures (a territory, a département)."""

    years: list[int]
    shares: dict[tuple[str, Optional[int]], Share] = field(default_factory=dict)
    structures: int = 0
    a_completer: int = 0

    def share(self, section: str, year: Optional[int] = None) -> Share:
        key = (section, year if section in YEARLY or section == FICHE else None)
        return self.shares.setdefault(key, Share())

    def add(self, fiche: Fiche) -> None:
        self.structures += 1
        self.a_completer += fiche.a_completer
        fixed = all(fiche.complete(s) for s in SECTIONS if s not in YEARLY)
        for section in SECTIONS:
            if section not in YEARLY:
                self.share(section).count(fiche.complete(section))
        for year in self.years:
            if year not in fiche.years:
                continue   # a year before the structure was created is owed nothing
            whole = fixed
            for section in YEARLY:
                ok = fiche.complete(section, year)
                self.share(section, year).count(ok)
                whole = whole and ok
            self.share(FICHE, year).count(whole)


def indicator(fiches: Iterable[Fiche], years: list[int]) -> Indicator:
    out = Indicator(years)
    for fiche in fiches:
        out.add(fiche)
    return out


def by_departement(fiches: dict[int, Fiche], years: list[int]) -> dict[int, Indicator]:
    """One indicator per département id."""
    groups: dict[int, Indicator] = {}
    for fiche in fiches.values():
        groups.setdefault(fiche.departement_id, Indicator(years)).add(fiche)
    return groups


def rows(ind: Indicator) -> list[dict[str, Any]]:
    """The table of a territory: one row per section (and the whole fiche), one cell per year;
    Description and Calendrier, counted once, give the same share every year."""
    out = [{"key": FICHE, "yearly": True, "cells": [ind.share(FICHE, y) for y in ind.years]}]
    for key in SECTIONS:
        yearly = key in YEARLY
        out.append({"key": key, "yearly": yearly,
                    "cells": [ind.share(key, y if yearly else None) for y in ind.years]})
    return out
