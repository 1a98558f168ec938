"""Reference kinds (département, opérateur, structure) and the look-up tables they read.

A reference is written and compared by its human key (département code, opérateur name,
code DNA); ``Lookups`` turns keys into database ids when a row is written.
"""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Departement, Operateur, Structure

from .kinds import Code, CellError, Kind, _text
from .normalize import norm


class Lookups:
    """Départements, opérateurs and structures by human key, loaded once per import or export."""

    def __init__(self, session: Session):
        self.departements: dict[str, tuple[int, int]] = {}
        self.departement_names: dict[str, str] = {}
        for dep_id, code, nom, region_id in session.execute(
                select(Departement.id, Departement.code, Departement.nom, Departement.region_id)):
            self.departements[code] = (dep_id, region_id)
            self.departement_names[norm(nom)] = code
        self.operateurs: dict[str, tuple[int, str]] = {
            norm(nom): (op_id, nom) for op_id, nom in session.execute(select(Operateur.id, Operateur.nom))}
        self.structures: dict[str, tuple[int, int, Optional[int]]] = {
            code: (sid, dep, op) for sid, code, dep, op in session.execute(
                select(Structure.id, Structure.code_dna, Structure.departement_id, Structure.operateur_id))}
        #: Keys created by the file being imported (an opérateur or structure row marked new).
        self.new_operateurs: dict[str, str] = {}
        self.new_structures: set[str] = set()

    def operateur_id(self, name: Optional[str]) -> Optional[int]:
        found = self.operateurs.get(norm(name)) if name else None
        return found[0] if found else None


class DepartementRef(Kind):
    """A département, read as ``14``, ``14 - Calvados`` or ``Calvados`` (``1`` is ``01``)."""

    editor, width = "select", 12

    def clean(self, raw: Any, ctx: Optional[Lookups] = None) -> str:
        text = _text(raw)
        code = text.split(" - ")[0].split(" – ")[0].strip().upper()
        if code.isdigit() and len(code) == 1:
            code = code.zfill(2)
        if ctx is None:
            return code
        if code in ctx.departements:
            return code
        by_name = ctx.departement_names.get(norm(text.split(" - ")[-1]))
        if by_name:
            return by_name
        raise CellError(f"département inconnu : « {text} »")

    def choices(self, ctx: Optional[Lookups] = None) -> Optional[list[str]]:
        return sorted(ctx.departements) if ctx else None


class OperateurRef(Kind):
    """An opérateur, by its name (case, accents and spaces ignored)."""

    editor, width = "select", 30

    def clean(self, raw: Any, ctx: Optional[Lookups] = None) -> str:
        text = " ".join(_text(raw).split())
        if ctx is None:
            return text
        found = ctx.operateurs.get(norm(text))
        if found:
            return found[1]
        if norm(text) in ctx.new_operateurs:
            return ctx.new_operateurs[norm(text)]
        raise CellError(f"opérateur inconnu : « {text} » (ajoutez-le dans la feuille Opérateurs)")

    def choices(self, ctx: Optional[Lookups] = None) -> Optional[list[str]]:
        return sorted(name for _, name in ctx.operateurs.values()) if ctx else None


class StructureRef(Code):
    """The code DNA of an existing structure (or of one the same file creates)."""

    def clean(self, raw: Any, ctx: Optional[Lookups] = None) -> str:
        code = super().clean(raw, ctx)
        if ctx is not None and code not in ctx.structures and code not in ctx.new_structures:
            raise CellError(f"structure inconnue : « {code} »")
        return code


class CodeList(Kind):
    """Several codes DNA in one cell, separated by commas (the structures of a convention)."""

    width = 30

    def clean(self, raw: Any, ctx: Optional[Lookups] = None) -> tuple[str, ...]:
        codes = sorted({c.strip().upper() for c in _text(raw).replace(";", ",").split(",") if c.strip()})
        if ctx is not None:
            unknown = [c for c in codes if c not in ctx.structures and c not in ctx.new_structures]
            if unknown:
                raise CellError(f"structure(s) inconnue(s) : {', '.join(unknown)}")
        return tuple(codes)

    def render(self, value):
        return ", ".join(value) if value else None

    def same(self, old, new) -> bool:
        return tuple(old or ()) == tuple(new or ())
