"""What a complete fiche needs: the one completeness rule, declared once.

Completeness is not validity. A value present but wrong is refused by ``app.rules``; a value
missing (a CADA without its FINESS, a structure without coordinates, a year without its places
or budget, a document not yet stored) never blocks a save or an import: the fiche is
« à compléter ». The same declaration drives the fiche's badge, « À traiter », the import
preview's warnings and the completeness indicator (``app.pilotage.completude_stats``).

Sections follow the fiche (``views/fiche.py``): Description and Calendrier once per structure,
Places, Finances and Documents once per year of the five the fiche shows.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.documents import evaluate_years
from app.labels import LABELS
from models import BudgetAnnee, PlacesAnnee, Structure
from models.convention import current_conventions
from models.enums import TypeStructure

#: The fiche's sections that completeness counts, in the fiche's order.
SECTIONS: dict[str, Any] = {"description": _l("Description"), "calendrier": _l("Calendrier"),
                            "places": _l("Places"), "finances": _l("Finances"),
                            "documents": _l("Documents")}
YEARLY = ("places", "finances", "documents")
AUTORISEES = frozenset({TypeStructure.CADA.value, TypeStructure.CPH.value})


@dataclass(frozen=True)
class Need:
    """One value a complete fiche holds: its section, the table and field (the workbook's
    field name, ``attr`` when the model names it otherwise) and the types it concerns."""

    section: str
    table: str
    field: str
    types: Optional[frozenset[str]] = None        #: ``None``: every type
    attr: Optional[str] = None

    @property
    def label(self) -> Any:
        return LABELS.get(self.field, self.field)

    @property
    def column(self) -> str:
        return self.attr or self.field

    def concerns(self, type_code: Optional[str]) -> bool:
        return self.types is None or type_code in self.types


NEEDS: tuple[Need, ...] = (
    Need("description", "structure", "nom"),
    Need("description", "structure", "operateur", attr="operateur_id"),
    Need("description", "structure", "code_finess", AUTORISEES),
    Need("description", "structure", "public"),
    Need("description", "structure", "adresse_administrative"),
    Need("description", "structure", "code_postal"),
    Need("description", "structure", "commune"),
    Need("description", "structure", "latitude"),
    Need("description", "structure", "longitude"),
    Need("calendrier", "structure", "date_creation"),
    Need("calendrier", "structure", "debut_autorisation", AUTORISEES),
    Need("calendrier", "structure", "fin_autorisation", AUTORISEES),
    Need("calendrier", "structure", "debut_convention"),
    Need("calendrier", "structure", "fin_convention"),
    Need("places", "places_annee", "places_autorisees"),
    Need("finances", "budget_annee", "dotation_accordee"),
    Need("finances", "budget_annee", "etp"),
)
#: Tables whose rows a complete fiche needs values of (the import warns of their gaps).
GAP_TABLES = frozenset(n.table for n in NEEDS)
_YEAR_TABLES = {"places_annee": (PlacesAnnee, "places"), "budget_annee": (BudgetAnnee, "finances")}


def _code(value: Any) -> Optional[str]:
    return None if value is None else str(getattr(value, "value", value))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def needs_of(table: str, type_code: Optional[str]) -> list[Need]:
    """The needs of one table's row for a structure of this type."""
    return [n for n in NEEDS if n.table == table and n.concerns(type_code)]


def missing_in_row(table: str, values: dict, type_code: Any = None,
                   only: Optional[Iterable[str]] = None, reserved: Iterable[str] = ()) -> list[Any]:
    """Labels of the needed fields a row leaves empty (absent from ``values`` or blank);
    ``only``: look at these fields alone (the fields an update clears); ``reserved``: model
    attributes the writer may not set (the State's, for an opérateur): not theirs to complete."""
    kind = _code(type_code if type_code is not None else values.get("type"))
    fields = None if only is None else set(only)
    return [n.label for n in needs_of(table, kind)
            if (fields is None or n.field in fields) and n.column not in reserved
            and _blank(values.get(n.field))]


# --- per structure, from the database --------------------------------------------------------

@dataclass
class Fiche:
    """The completeness of one structure: what is missing, per section and year."""

    id: int
    code_dna: str
    nom: str
    type: str
    departement_id: int
    years: list[int]                                            #: the years it is counted for
    #: (section, year or None) → [(label, year it is about)]; labels stay lazy (a thousand
    #: fiches hold tens of thousands of gaps; only a page's few are translated)
    missing: dict[tuple[str, Optional[int]], list[tuple[Any, Optional[int]]]] = field(default_factory=dict)

    def add(self, section: str, year: Optional[int], label: Any, about: Optional[int] = None) -> None:
        self.missing.setdefault((section, year), []).append((label, about))

    def complete(self, section: str, year: Optional[int] = None) -> bool:
        return not self.missing.get((section, year))

    @property
    def a_completer(self) -> bool:
        """A value of the fiche is missing (documents aside: nearly every structure owes one,
        they have their own line in « À traiter »; they still count in the indicator)."""
        return any(gaps for (section, _y), gaps in self.missing.items() if section != "documents")

    @property
    def documents_manquants(self) -> bool:
        return any(gaps for (section, _y), gaps in self.missing.items() if section == "documents")

    def by_section(self, documents: bool = True) -> list[tuple[str, Any, list[str]]]:
        """(section key, section label, ["label (year)", ...]) for the sections with a gap."""
        out = []
        for key, label in SECTIONS.items():
            if key == "documents" and not documents:
                continue
            items: dict[str, None] = {}   # ordered, each once (an arrêté owed every year)
            for (section, _year), gaps in sorted(self.missing.items(), key=lambda kv: kv[0][1] or 0):
                if section == key:
                    items.update((f"{_text(lbl)} {about}" if about else _text(lbl), None)
                                 for lbl, about in gaps)
            if items:
                out.append((key, label, list(items)))
        return out

    def summary(self, documents: bool = True) -> str:
        return " ; ".join(f"{label} : {', '.join(items)}"
                          for _k, label, items in self.by_section(documents))


def _text(label: Any) -> str:
    return str(getattr(label, "label", label))


def shown_years(today: Optional[dt.date] = None) -> list[int]:
    """The five years a fiche shows (and completeness counts): this year and the four before."""
    year = (today or dt.date.today()).year
    return list(range(year - 4, year + 1))


def evaluate(session: Session, condition: Any, years: Optional[list[int]] = None,
             documents: bool = True) -> dict[int, Fiche]:
    """Completeness of every structure matching ``condition`` (a SQL condition on
    ``Structure``, scope included): one query for the structures, one per yearly table, and
    the documents checklist's few per year — never one per structure."""
    years = years or shown_years()
    cols = sorted({n.column for n in NEEDS if n.table == "structure"} - set(_CONVENTION_DATES))
    rows = session.execute(
        select(Structure.id, Structure.code_dna, Structure.nom, Structure.type,
               Structure.departement_id, *[getattr(Structure, c) for c in cols])
        .where(condition).order_by(Structure.code_dna)).all()
    conventions = _convention_dates(session, condition)
    fiches: dict[int, Fiche] = {}
    for row in rows:
        kind = _code(row.type)
        created = row.date_creation.year if row.date_creation else None
        fiche = fiches[row.id] = Fiche(row.id, row.code_dna, row.nom or "", kind, row.departement_id,
                                       [y for y in years if created is None or y >= created])
        values = {**row._mapping, **dict(zip(_CONVENTION_DATES, conventions.get(row.id, (None, None))))}
        for need in NEEDS:
            if need.table == "structure" and need.concerns(kind) and _blank(values[need.column]):
                fiche.add(need.section, None, need.label)
    if fiches:
        _yearly(session, condition, years, fiches)
        if documents:
            _documents(session, years, fiches)
    return fiches


_CONVENTION_DATES = ("debut_convention", "fin_convention")


def _convention_dates(session: Session, condition: Any) -> dict[int, tuple]:
    """Structure id → (début, fin) of its current convention, set-based, in a query of its
    own: the rebuild evaluates the whole park, where the column's correlated subquery costs
    one probe per structure, and a join of the ranked conventions is planned as a nested
    loop (10,000 × 10,000 rows) when the tables have no statistics yet."""
    current = current_conventions(select(Structure.id).where(condition))
    return {sid: (debut, fin) for sid, debut, fin in session.execute(select(current))}


def _yearly(session: Session, condition: Any, years: list[int], fiches: dict[int, Fiche]) -> None:
    ids = select(Structure.id).where(condition)
    for table, (model, _section) in _YEAR_TABLES.items():
        needs = [n for n in NEEDS if n.table == table]
        found = session.execute(
            select(model.structure_id, model.annee, *[getattr(model, n.column) for n in needs])
            .where(model.structure_id.in_(ids), model.annee.in_(years))).all()
        present = {(r[0], r[1]): r[2:] for r in found}
        for fiche in fiches.values():
            for year in fiche.years:
                values = present.get((fiche.id, year))
                for i, need in enumerate(needs):
                    if need.concerns(fiche.type) and (values is None or _blank(values[i])):
                        fiche.add(need.section, year, need.label, year)


def _documents(session: Session, years: list[int], fiches: dict[int, Fiche]) -> None:
    for year, items in zip(years, evaluate_years(session, list(fiches), years)):
        for item in items:
            fiche = fiches[item.structure_id]
            if item.missing and year in fiche.years:
                fiche.add("documents", year, item.categorie, item.annee)


def for_structure(session: Session, structure_id: int, today: Optional[dt.date] = None) -> Fiche:
    """The completeness of one structure (its fiche's badge and list)."""
    return evaluate(session, Structure.id == structure_id, shown_years(today))[structure_id]


__all__ = ["AUTORISEES", "Fiche", "GAP_TABLES", "NEEDS", "Need", "SECTIONS", "YEARLY",
           "evaluate", "for_structure", "missing_in_row", "needs_of", "shown_years"]
