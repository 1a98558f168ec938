"""The records behind the rows a grid save sends back, found again by their keys.

A grid row is named by its key (``row_key`` of ``views.grid_data``): the structure, the address,
or the structure and month. Whether the user may write a row is the write gate's answer
(``app.gate``, asked by ``views.grid_save`` for each ``Target``), not this module's.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import select

from app.extensions import db
from models import ActiviteMensuelle, Adresse, AdresseAnnee, Structure

from .grid_specs import GridSpec, Period


@dataclass
class Target:
    """One grid row to write: its record (``None`` until created), its parent and context."""

    key: str
    label: str
    structure_id: int
    row: Any = None                     #: the edited record (Structure, PlacesAnnee, ...)
    parent: Any = None                  #: the Adresse of an Adresses row
    month: Optional[dt.date] = None
    year: Optional[int] = None

    def obj(self, target: str) -> Any:
        return self.parent if target == "parent" else self.row

    def anchor(self) -> tuple[type, int]:
        """The record that places this row in the territory: the address, else the structure."""
        if self.parent is not None:
            return Adresse, self.parent.id
        return Structure, self.structure_id

    def creation(self) -> dict[str, Any]:
        """The values that tie the record a save creates for this row to its place and period."""
        if self.parent is not None:
            return {"adresse_id": self.parent.id, "annee": self.year}
        if self.month is not None:
            return {"structure_id": self.structure_id, "mois": self.month}
        return {"structure_id": self.structure_id, "annee": self.year}


def _ids(keys: list[str]) -> list[int]:
    return sorted({int(k.split("|")[0]) for k in keys if k.split("|")[0].isdigit()})


def _month(text: str) -> Optional[dt.date]:
    try:
        year, month = (int(p) for p in text.split("-"))
        return dt.date(year, month, 1) if 1900 <= year <= 2100 else None
    except ValueError:
        return None


def load_targets(spec: GridSpec, period: Period, keys: list[str]) -> dict[str, Target]:
    """The targets of ``keys`` that exist (unknown keys are left out), wherever they are: the
    gate then says which ones the user may write."""
    ids = _ids(keys)
    if not ids:
        return {}
    if spec.slug == "structures":
        objs = db.session.scalars(select(Structure).where(Structure.id.in_(ids)))
        return {str(o.id): Target(str(o.id), o.code_dna, o.id, row=o) for o in objs}
    if spec.slug == "adresses":
        return _adresses(period, ids)
    codes = dict(db.session.execute(select(Structure.id, Structure.code_dna).where(
        Structure.id.in_(ids))).all())
    model = spec.sheet.model
    if spec.slug == "activite":
        return _months(keys, codes)
    rows = {r.structure_id: r for r in db.session.scalars(select(model).where(
        model.structure_id.in_(list(codes)), model.annee == period.year))}
    return {str(sid): Target(str(sid), f"{code} ({period.year})", sid, row=rows.get(sid),
                             year=period.year) for sid, code in codes.items()}


def _months(keys: list[str], codes: dict[int, str]) -> dict[str, Target]:
    wanted: dict[str, tuple[int, dt.date]] = {}
    for key in keys:
        sid, _, month = key.partition("|")
        when = _month(month)
        if sid.isdigit() and int(sid) in codes and when is not None:
            wanted[key] = (int(sid), when)
    months = sorted({m for _s, m in wanted.values()})
    found = {(r.structure_id, r.mois): r for r in db.session.scalars(select(ActiviteMensuelle).where(
        ActiviteMensuelle.structure_id.in_(sorted({s for s, _m in wanted.values()})),
        ActiviteMensuelle.mois.in_(months)))} if wanted else {}
    return {key: Target(key, f"{codes[sid]} ({m:%m/%Y})", sid, row=found.get((sid, m)), month=m)
            for key, (sid, m) in wanted.items()}


def _adresses(period: Period, ids: list[int]) -> dict[str, Target]:
    parents = db.session.execute(select(Adresse, Structure.code_dna).join(
        Structure, Adresse.structure_id == Structure.id).where(Adresse.id.in_(ids))).all()
    years = {r.adresse_id: r for r in db.session.scalars(select(AdresseAnnee).where(
        AdresseAnnee.adresse_id.in_(ids), AdresseAnnee.annee == period.year))}
    return {str(p.id): Target(str(p.id), f"{code} — adresse {p.id} ({period.year})", p.structure_id,
                              row=years.get(p.id), parent=p, year=period.year)
            for p, code in parents}


def new_record(spec: GridSpec, target: Target) -> Any:
    """The record a save creates for a row of the period that had none yet."""
    values = target.creation()
    if target.parent is not None:  # by the relation: the history reads the address's structure
        values = {"adresse": target.parent, "annee": target.year}
    record = spec.sheet.model(**values)
    db.session.add(record)
    return record
