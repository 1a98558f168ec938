"""Which canonical sheet and columns a sheet of an agent's file holds.

A sheet is recognised by its name, else by its headers; its header row is the first of the
first 20 rows holding the key column and at least two other known columns, possibly under a
merged group row (``Convention`` over ``Début`` is ``Début convention``). A sheet keyed by
code DNA may carry columns of Structures, Places and Budgets side by side; a per-year column
takes its year from its header, an ``Année`` column, or the year the user gives.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from app.sheets import SHEETS, WIDE_FAMILY, Column, Sheet
from app.sheets.normalize import header_key, norm

from .reader import RawSheet

HEADER_SCAN = 20


@dataclass
class Mapping:
    """A column of the file matched to a canonical column (and the year its header gives)."""

    index: int
    sheet: Sheet
    column: Column
    year: Optional[int] = None
    header: str = ""


@dataclass
class SheetPlan:
    """How one sheet of the file is read: its canonical sheet, header row and columns."""

    raw: RawSheet
    primary: Sheet
    header_pos: int                       #: position of the header row in ``raw.rows``
    mappings: list[Mapping] = field(default_factory=list)
    year_index: Optional[int] = None      #: column giving the row's year, if any
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_INDEX: dict[str, dict[str, Column]] = {}


def _index(sheet: Sheet) -> dict[str, Column]:
    if sheet.name not in _INDEX:
        found: dict[str, Column] = {}
        for column in sheet.columns:
            for key in column.header_keys():
                found.setdefault(key, column)
        _INDEX[sheet.name] = found
    return _INDEX[sheet.name]


def sheet_by_name(name: str) -> Optional[Sheet]:
    wanted = norm(name).replace(" ", "")
    for sheet in SHEETS:
        if wanted in {norm(n).replace(" ", "") for n in (sheet.name, *sheet.aliases)}:
            return sheet
    return None


def _groups(raw: RawSheet, pos: int) -> dict[int, str]:
    """Group labels above the header row (merged cells spread over their width)."""
    if pos == 0:
        return {}
    number, above = raw.rows[pos - 1]
    if number != raw.rows[pos][0] - 1:
        return {}
    groups = {i: str(v) for i, v in enumerate(above) if isinstance(v, str) and v.strip()}
    for r1, c1, r2, c2 in raw.merged:
        if r1 <= number <= r2 and (c1 - 1) in groups:
            for col in range(c1, c2 + 1):
                groups[col - 1] = groups[c1 - 1]
    return groups


def _candidates(row: list, groups: dict[int, str],
                ignore: frozenset = frozenset()) -> list[tuple[int, str, list[tuple[str, Optional[int]]]]]:
    out = []
    for i, value in enumerate(row):
        if not isinstance(value, str) or not value.strip() or value.strip() in ignore:
            continue
        keys = []
        if i in groups:
            keys.append(header_key(f"{groups[i]} {value}"))
        keys.append(header_key(value))
        out.append((i, value.strip(), keys))
    return out


def _match(sheet: Sheet, keys) -> Optional[tuple[Column, Optional[int]]]:
    index = _index(sheet)
    for key, year in keys:
        if key in index:
            return index[key], year
    return None


def _score(sheet: Sheet, cands) -> tuple[int, int]:
    """(columns matched, columns of the sheet itself); (0, 0) without the key column."""
    family = WIDE_FAMILY if sheet in WIDE_FAMILY else [sheet]
    matched, own, has_key = 0, 0, False
    for _i, _text, keys in cands:
        mine = _match(sheet, keys)
        hit = mine or next((m for s in family for m in [_match(s, keys)] if m), None)
        if hit:
            matched += 1
            own += 1 if mine else 0
            has_key = has_key or (mine is not None and mine[0].field == sheet.key[0])
    return (matched, own) if has_key and matched >= 3 else (0, 0)


def detect(raw: RawSheet, ignore: frozenset = frozenset()) -> Optional[SheetPlan]:
    """The reading plan of a sheet, or ``None`` when it holds no canonical sheet; headers in
    ``ignore`` (a list's computed columns an export wrote) are passed over without a word."""
    named = sheet_by_name(raw.name)
    choices = [named] if named else SHEETS
    for pos in range(min(HEADER_SCAN, len(raw.rows))):
        cands = _candidates(raw.rows[pos][1], _groups(raw, pos), frozenset(ignore))
        scored = [(s, _score(s, cands)) for s in choices]
        best = max(scored, key=lambda item: item[1])
        if best[1][0]:
            return _plan(raw, best[0], pos, cands)
    return None


def _plan(raw: RawSheet, primary: Sheet, pos: int, cands) -> SheetPlan:
    plan = SheetPlan(raw, primary, pos)
    wide = primary in WIDE_FAMILY
    seen: dict[tuple, str] = {}
    for i, text, keys in cands:
        year = next((y for _k, y in keys if y), None)
        if wide:
            order = [s for s in WIDE_FAMILY if s.year_field] if year else \
                [primary, *[s for s in WIDE_FAMILY if s is not primary]]
        else:
            order = [primary]
        hit = next(((s, m[0]) for s in order for m in [_match(s, keys)] if m), None)
        if hit is None:
            plan.warnings.append(f"Feuille « {raw.name} » : colonne « {text} » inconnue, ignorée.")
            continue
        sheet, column = hit
        if column.field == sheet.year_field and not year:
            if plan.year_index is None:
                plan.year_index = i
            if sheet is not primary:
                continue
        target = (sheet.name, column.field, year)
        if target in seen:
            plan.warnings.append(f"Feuille « {raw.name} » : colonne « {text} » en double "
                                 f"(déjà « {seen[target]} »), ignorée.")
            continue
        seen[target] = text
        plan.mappings.append(Mapping(i, sheet, column, year, text))
    return plan
