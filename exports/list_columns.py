"""Columns a list page shows beside its canonical sheet's own (the structure list's bâti,
communes and places of the latest year): the export of that list holds them too, after the
sheet's columns. They are named in the hidden ``_bhasile`` sheet, so that importing the file
back passes over them (they are computed, never read)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

from sqlalchemy import select

from app.sheets import Sheet
from app.structure_exprs import bati_expr, places_expr
from models import Adresse, Structure

CHUNK = 2000


@dataclass(frozen=True)
class ListColumn:
    """A list column that no canonical column holds: its header and its values by row key."""

    label: str
    width: int
    values: Callable[[Any, list], dict]      #: (session, keys of a batch of rows) → key → value


def _places(session, codes: list) -> dict:
    return dict(session.execute(select(Structure.code_dna, places_expr()).where(
        Structure.code_dna.in_(codes))).all())


def _bati(session, codes: list) -> dict:
    return {code: (bati or "").capitalize() or None for code, bati in session.execute(
        select(Structure.code_dna, bati_expr()).where(Structure.code_dna.in_(codes)))}


def _communes(session, codes: list) -> dict:
    found: dict[str, set] = {}
    for code, commune in session.execute(
            select(Structure.code_dna, Adresse.commune).distinct().join(
                Adresse, Adresse.structure_id == Structure.id)
            .where(Structure.code_dna.in_(codes), Adresse.commune.is_not(None))):
        found.setdefault(code, set()).add(commune)
    return {code: ", ".join(sorted(names)) for code, names in found.items()}


#: the structure list's computed columns (views/structure_list.py), keyed by their list name
STRUCTURE_LIST = {
    "bati": ListColumn("Bâti", 12, _bati),
    "communes": ListColumn("Communes", 30, _communes),
    "places_latest": ListColumn("Places autorisées (dernière année)", 18, _places),
}


def list_columns(sheet: Sheet, view_columns: Iterable[str]) -> list[ListColumn]:
    """The columns of the list ``view_columns`` that ``sheet`` lacks, in the list's order."""
    if sheet.model is not Structure:
        return []
    fields = {c.field for c in sheet.columns}
    return [STRUCTURE_LIST[name] for name in view_columns
            if name not in fields and name in STRUCTURE_LIST]


def with_list_columns(session: Any, sheet: Sheet, rows: Iterable[Sequence],
                      extra: list[ListColumn]) -> Iterator[Sequence]:
    """``rows`` followed by the values of ``extra``, fetched once per batch of rows."""
    if not extra:
        yield from rows
        return
    key = [c.field for c in sheet.columns].index(sheet.key[0])
    batch: list = []

    def flush() -> Iterator[Sequence]:
        keys = [row[key] for row in batch]
        found = [column.values(session, keys) for column in extra]
        for row in batch:
            yield [*row, *(values.get(row[key]) for values in found)]

    for row in rows:
        batch.append(row)
        if len(batch) >= CHUNK:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def labels(extra: Optional[list[ListColumn]]) -> str:
    """How the ``_bhasile`` sheet names them (and how the import finds them)."""
    return " | ".join(column.label for column in extra or ())
