"""Apply a previewed import: all rows in one transaction, or nothing.

Each changed row is re-checked against the version seen by the preview; if another user
changed it since, nothing is written and the rows are named. Every change goes through the
ORM, so the change history records it, tagged with the import batch.
"""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import select

from app.sheets import APPLY_ORDER, Lookups, Sheet
from app.sheets.normalize import norm
from models import Adresse, AdresseAnnee, ConventionStructure, Structure

from .result import Record

CHUNK = 2000


class StaleRows(Exception):
    """Rows changed by someone else since the preview: the import must be previewed again."""

    def __init__(self, rows: list[str]):
        super().__init__("Des lignes ont été modifiées depuis l'aperçu : " + ", ".join(rows[:20])
                         + (" ..." if len(rows) > 20 else "") + ". Relancez l'aperçu.")
        self.rows = rows


def _describe(rec: Record) -> str:
    key = " / ".join(str(k) for k in rec.key)
    return f"{rec.sheet.name} ligne {rec.row} ({key})"


class Applier:
    """Writes the new and updated rows of a preview with the ORM (so they are audited)."""

    def __init__(self, session: Any, lookups: Lookups):
        self.session, self.lookups = session, lookups
        self.stale: list[str] = []

    def apply(self, records: list[Record]) -> int:
        written = 0
        for sheet in APPLY_ORDER:
            todo = [r for r in records if r.sheet is sheet and r.status in ("new", "updated")]
            if not todo:
                continue
            if sheet.name == "Adresses":
                self._adresses(todo)
            else:
                self._plain(sheet, todo)
            self.session.flush()
            self._remember(sheet, todo)
            written += len(todo)
        if self.stale:
            raise StaleRows(self.stale)
        return written

    def _load(self, model: type, ids: list[int]) -> dict[int, Any]:
        found = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            found.update({o.id: o for o in self.session.scalars(select(model).where(model.id.in_(chunk)))})
        return found

    def _target(self, model: type, rec: Record, objs: dict, id_pos: int = 0) -> Optional[Any]:
        if rec.ids is None or rec.ids[id_pos] is None:
            obj = model()
            self.session.add(obj)
            return obj
        obj = objs.get(rec.ids[id_pos])
        if obj is None or obj.version != rec.ids[id_pos + 1]:
            self.stale.append(_describe(rec))
            return None
        return obj

    def _plain(self, sheet: Sheet, todo: list[Record]) -> None:
        objs = self._load(sheet.model, [r.ids[0] for r in todo if r.ids])
        for rec in todo:
            obj = self._target(sheet.model, rec, objs)
            if obj is None:
                continue
            values = rec.values if rec.status == "new" else {f: n for f, (_o, n) in rec.changed.items()}
            for field, value in values.items():
                self._set(obj, sheet, field, value)

    def _set(self, obj: Any, sheet: Sheet, field: str, value: Any) -> None:
        column = sheet.by_field[field]
        if column.read_only:
            return
        attr = column.attribute
        if field == "codes_dna":
            self._links(obj, value or ())
            return
        if attr == "structure_id":
            value = self.lookups.structures[value][0] if value else None
        elif attr == "operateur_id":
            value = self.lookups.operateur_id(value)
        elif attr == "departement_id":
            value = self.lookups.departements[value][0] if value else None
        setattr(obj, attr, value)

    def _links(self, convention: Any, codes: tuple) -> None:
        wanted = {self.lookups.structures[c][0] for c in codes}
        current = {link.structure_id: link for link in convention.structures}
        for sid, link in current.items():
            if sid not in wanted:
                convention.structures.remove(link)
        for sid in wanted - set(current):
            convention.structures.append(ConventionStructure(structure_id=sid))

    def _adresses(self, todo: list[Record]) -> None:
        sheet = todo[0].sheet
        parents = self._load(Adresse, [r.ids[2] for r in todo if r.ids and r.ids[2]])
        years = self._load(AdresseAnnee, [r.ids[0] for r in todo if r.ids and r.ids[0]])
        for rec in todo:
            values = rec.values if rec.status == "new" else {f: n for f, (_o, n) in rec.changed.items()}
            parent = self._target(Adresse, rec, parents, 2) if rec.ids else Adresse()
            if parent is None:
                continue
            if rec.ids is None:
                self.session.add(parent)
            for field, value in values.items():
                if sheet.by_field[field].target == "parent":
                    self._set(parent, sheet, field, value)
            if rec.values.get("annee") is None:
                continue
            year = self._target(AdresseAnnee, rec, years, 0) if rec.ids and rec.ids[0] else None
            if year is None:
                if rec.ids and rec.ids[0]:
                    continue
                year = AdresseAnnee(adresse=parent)
                self.session.add(year)
            for field, value in values.items():
                if sheet.by_field[field].target == "row":
                    self._set(year, sheet, field, value)

    def _remember(self, sheet: Sheet, todo: list[Record]) -> None:
        """Make the opérateurs and structures just created known to the rows that follow."""
        if sheet.name == "Opérateurs":
            for rec in todo:
                name = rec.values.get("nom") or rec.key[0]
                if norm(name) not in self.lookups.operateurs:
                    obj_id = self.session.scalar(select(sheet.model.id).where(sheet.model.nom == name))
                    self.lookups.operateurs[norm(name)] = (obj_id, name)
        elif sheet.name == "Structures":
            new = [r.key[0] for r in todo if r.status == "new"]
            for start in range(0, len(new), CHUNK):
                for sid, code, dep, op in self.session.execute(
                        select(Structure.id, Structure.code_dna, Structure.departement_id,
                               Structure.operateur_id).where(Structure.code_dna.in_(new[start:start + CHUNK]))):
                    self.lookups.structures[code] = (sid, dep, op)
