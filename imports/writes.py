"""What a row of the file writes, described for the write gate (``app.gate``).

A row of a sheet is one write of its table (an Adresses row: the address, then its year). The
gate reads model attributes and ids, the file human keys: a code DNA, an opérateur's name or
a département's code become ids here, and a record the file itself creates (a new structure,
opérateur or address) is referred to by ``NEW``, which the import's gate counts as inside.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from app.sheets import Lookups, Sheet
from models import Adresse, AdresseAnnee, Departement, Operateur, Structure

from .result import Record

#: The id of a record the file creates (Gate(..., new_ids=NEW_IDS)).
NEW = -1
NEW_IDS = {Structure: {NEW}, Operateur: {NEW}, Adresse: {NEW}}
#: Attributes holding a relation, and the model they point to.
REFERENCES: dict[str, type] = {"structure_id": Structure, "operateur_id": Operateur,
                               "departement_id": Departement, "adresse_id": Adresse}


@dataclass
class Write:
    """One write a row asks the gate about: the stored row (``None`` for a creation) with the
    old values of what changes, the new values, and the rows it links (a convention's)."""

    model: type
    stored: Optional[dict]
    values: dict[str, Any]
    related: dict[type, list] = field(default_factory=dict)


class Translator:
    """Turns the records of one import into the gate's writes (human keys → ids)."""

    def __init__(self, lookups: Lookups):
        self.lookups = lookups
        self._attrs: dict[str, dict[str, str]] = {}
        self._fields: dict[str, dict[str, str]] = {}
        self._renamed: dict[str, tuple[list, list]] = {}

    def attributes(self, sheet: Sheet) -> dict[str, str]:
        """Field → attribute written, for the columns a row writes."""
        found = self._attrs.get(sheet.name)
        if found is None:
            found = self._attrs[sheet.name] = {
                c.field: c.attribute for c in sheet.columns if not c.read_only and c.field != "codes_dna"}
        return found

    def field_of(self, sheet: Sheet, attribute: Optional[str]) -> Optional[str]:
        """The sheet's field (its column in the file) for an attribute a refusal names."""
        found = self._fields.get(sheet.name)
        if found is None:
            found = self._fields[sheet.name] = {a: f for f, a in self.attributes(sheet).items()}
            found["adresse_id"] = "id" if "id" in sheet.by_field else None
        return found.get(attribute) if attribute else None

    def ident(self, attribute: str, value: Any) -> Any:
        """A value as the gate reads it: references by id (``NEW`` for the file's own)."""
        if value is None or attribute not in REFERENCES:
            return value
        lookups = self.lookups
        if attribute == "structure_id":
            found = lookups.structures.get(value)
            return found[0] if found else NEW
        if attribute == "operateur_id":
            return lookups.operateur_id(value) or NEW
        if attribute == "departement_id":
            found = lookups.departements.get(value)
            return found[0] if found else None
        return value

    def values(self, sheet: Sheet, fields: dict[str, Any]) -> dict[str, Any]:
        """Field → value becomes attribute → value (references by id)."""
        renamed, dropped = self._renames(sheet)
        out = dict(fields)   # most fields are their attribute: copied as they are
        for name in dropped:
            out.pop(name, None)
        for name, attr in renamed:
            if name in out:
                out[attr] = self.ident(attr, out.pop(name))
        return out

    def _renames(self, sheet: Sheet) -> tuple[list, list]:
        found = self._renamed.get(sheet.name)
        if found is None:
            attrs = self.attributes(sheet)
            found = self._renamed[sheet.name] = (
                [(f, a) for f, a in attrs.items() if f != a or a in REFERENCES],
                [c.field for c in sheet.columns if c.field not in attrs])
        return found

    def structures(self, codes: Iterable[str]) -> list:
        return [self.ident("structure_id", code) for code in codes]

    # --- the writes of a row ----------------------------------------------------------------
    def writes(self, rec: Record, parent: Optional[tuple] = None,
               parent_value: Any = None) -> list[Write]:
        """The writes of a new or updated record. ``parent`` is the stored address of an
        Adresses row new for its year, ``parent_value(row, field)`` reads it."""
        sheet = rec.sheet
        if sheet.parent is not None:
            return self._adresse(rec, parent, parent_value)
        new, stored = rec.values, None   # a creation: every value (the gate skips the empty ones)
        if rec.ids is not None and rec.ids[0] is not None:
            new = {f: n for f, (_o, n) in rec.changed.items()}
            stored = {"id": rec.ids[0], **self.values(sheet, {f: o for f, (o, _n) in rec.changed.items()})}
        related = {}
        if "codes_dna" in rec.changed:   # the structures linked or unlinked
            old, codes = rec.changed["codes_dna"]
            related = {Structure: self.structures(sorted(set(old or ()) ^ set(codes or ())))}
        return [Write(sheet.model, stored, self.values(sheet, new), related)]

    def _adresse(self, rec: Record, parent: Optional[tuple], parent_value: Any) -> list[Write]:
        sheet = rec.sheet
        on_parent = {f for f in rec.changed if sheet.by_field[f].target == "parent"}
        new = {f: n for f, (_o, n) in rec.changed.items()}
        old = {f: o for f, (o, _n) in rec.changed.items()}
        ids = rec.ids or (None, None, None, None)
        address = self.values(sheet, {f: v for f, v in new.items() if f in on_parent})
        if ids[2] is None:
            writes = [Write(Adresse, None, address)]
        else:
            if parent is not None:   # the address is stored, its row for this year is not
                old = {f: parent_value(parent, f) for f in on_parent}
            before = self.values(sheet, {f: v for f, v in old.items() if f in on_parent})
            writes = [Write(Adresse, {"id": ids[2], **before}, address)]
        if rec.values.get("annee") is None:
            return writes
        year = self.values(sheet, {f: v for f, v in new.items() if f not in on_parent})
        if ids[0] is None:
            parent_id = NEW if ids[2] is None else ids[2]
            writes.append(Write(AdresseAnnee, None, {**year, "adresse_id": parent_id}))
        else:
            before = self.values(sheet, {f: v for f, v in old.items() if f not in on_parent})
            writes.append(Write(AdresseAnnee, {"id": ids[0], **before}, year))
        return writes


def stored_ids(rec: Record) -> list[tuple[type, int]]:
    """The stored rows a record refers to: (model, id)."""
    return [] if rec.ids is None else row_ids(rec.sheet, rec.ids)


def id_models(sheet: Sheet) -> list[type]:
    """The models whose stored rows ``row_ids`` names for a row of ``sheet``."""
    return [Adresse, AdresseAnnee] if sheet.parent is not None else [sheet.model]


def row_ids(sheet: Sheet, ids: tuple) -> list[tuple[type, int]]:
    """The stored rows behind a sheet's row of (id, version) pairs: (model, id)."""
    if sheet.parent is not None:
        return [(m, i) for m, i in ((Adresse, ids[2]), (AdresseAnnee, ids[0])) if i is not None]
    return [(sheet.model, ids[0])] if ids[0] is not None else []
