"""The declarative spreadsheet model: a ``Sheet`` is a list of ``Column``s over one table.

Export, import, templates and the grid all read these declarations; nothing else describes a
column. A column's label comes from ``app.labels.LABELS``, or from its own ``title`` (then
registered there, so forms, lists and the fiche find it too); its aliases (the headers agents
use) sit beside it, and its ``section`` says which part of the record's fiche and forms shows it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from sqlalchemy import Select, select

from app.labels import LABELS

from .kinds import Kind
from .normalize import header_key


@dataclass(frozen=True)
class Column:
    """One column of a sheet: a model field, its kind, its French header and its aliases."""

    field: str
    kind: Kind
    expr: Any                               #: SQL expression of the current value
    aliases: tuple[str, ...] = ()
    attr: Optional[str] = None              #: model attribute written (default: ``field``)
    target: str = "row"                     #: ``row`` or ``parent`` (the Adresse of Adresses)
    required: bool = False                  #: needed to create a record
    read_only: bool = False                 #: shown, never written (grid and import)
    validators: tuple[Callable[[Any], Optional[str]], ...] = ()
    section: Optional[str] = None           #: fiche section and form showing it (None: neither)
    title: Any = None                       #: French label, when ``LABELS`` has none

    @property
    def label(self) -> str:
        return str(self.title or LABELS[self.field])

    @property
    def attribute(self) -> str:
        return self.attr or self.field

    def header_keys(self) -> set[str]:
        """Every normalised header this column answers to (label and aliases)."""
        label = self.title or LABELS[self.field]
        keys = {header_key(getattr(label, "_args", (label,))[0])[0], header_key(self.label)[0]}
        keys.update(header_key(alias)[0] for alias in self.aliases)
        return keys

    def grid(self, ctx: Any = None) -> dict:
        """What a grid editor needs to edit this column."""
        return {"field": self.field, "label": self.label, "editor": self.kind.editor,
                "choices": self.kind.choices(ctx), "read_only": self.read_only,
                "required": self.required}


@dataclass
class Sheet:
    """A canonical sheet of the workbook: one row per record of ``model``, matched on ``key``."""

    name: str
    model: type
    columns: list[Column]
    key: tuple[str, ...]
    area: str                               #: roles area whose write right the import needs
    source: Callable[[Select], Select]      #: adds the joins the column expressions need
    ids: tuple[Any, ...]                    #: (id, version) expressions of the written records
    order: tuple[Any, ...] = ()
    aliases: tuple[str, ...] = ()
    year_field: Optional[str] = None        #: the key column holding the year (yearly sheets)
    #: the record the ``target="parent"`` columns write (Adresse, for the Adresses sheet's
    #: yearly rows): the sheet's rows are two records, matched on the parent's id
    parent: Optional[type] = None
    #: values not in SQL, by id: ``extra(session, ids, scope)``, limited to the scope
    extra: Optional[Callable[[Any, list[int], Any], dict[int, dict]]] = None
    by_field: dict[str, Column] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_field = {c.field: c for c in self.columns}
        for c in self.columns:
            if c.title is not None:
                LABELS.setdefault(c.field, c.title)

    def fields(self, section: str) -> list[str]:
        """The fields a section of the record's fiche and forms shows, in the sheet's order."""
        return [c.field for c in self.columns if c.section == section]

    def record_fields(self, target: str = "row") -> list[str]:
        """The record's own fields, in the sheet's order: every column written to the record
        (``target="parent"``: to the sheet's parent record) but the structure's key
        (``code_dna``, which the forms' « structure » stands for) and the values not in SQL
        (``extra``) — the fields of the record's forms, fiche and API."""
        return [c.field for c in self.columns
                if not c.read_only and c.target == target and c.attribute != "structure_id"
                and c.expr is not None]

    def column(self, field_name: str) -> Column:
        return self.by_field[field_name]

    @property
    def key_columns(self) -> list[Column]:
        return [self.by_field[f] for f in self.key]

    def select(self) -> Select:
        """Rows of this sheet: the column values (``None`` for computed ones), then ids."""
        exprs = [c.expr for c in self.columns if c.expr is not None]
        return self.source(select(*exprs, *self.ids)).order_by(*self.order)
