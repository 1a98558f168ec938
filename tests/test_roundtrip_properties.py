"""Hypothesis, on every sheet: random valid rows → export → import preview = zero changes;
random cell edits of an exported file → exactly those changes, nothing else."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.scope import NATIONAL
from app.sheets import BY_NAME, SHEETS
from app.sheets.kinds import (Boolean, Choice, Code, Coordinate, Date, Integer, Month, Number,
                              Text, Year)
from app.sheets.refs import CodeList, DepartementRef, OperateurRef, StructureRef

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
TEXT = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "Zs", "S"),
                             exclude_characters="_"), max_size=40)
#: Columns whose edits no domain rule can refuse (periods, FINESS, PMR ≤ places... stay valid).
EDITABLE = {
    "Structures": ["nom", "filiale", "adresse_administrative", "commune", "public", "lgbt",
                   "fvv_teh", "latitude", "longitude", "notes"],
    "Places": ["places_a_creer", "echeance_places_a_creer", "places_a_fermer", "echeance_places_a_fermer"],
    "Budgets": ["taux_encadrement", "cout_journalier", "total_produits", "total_charges",
                "reprise_etat", "fonds_dedies", "autre", "commentaire"],
    "Activité": ["places_occupees", "places_vacantes", "desinsectisation", "travaux"],
    "Adresses": ["adresse", "commune", "repartition", "places_autorisees", "qpv", "logement_social"],
    "Opérateurs": ["direction_generale", "siege_social"],
    "Conventions": ["type", "montant"],
}


def values_for(column, refs: dict):
    """A strategy of valid values of a column (``None`` = an empty cell)."""
    kind, field = column.kind, column.field
    if isinstance(kind, StructureRef):
        return st.sampled_from(refs["codes"])
    if isinstance(kind, CodeList):
        return st.lists(st.sampled_from(refs["codes"]), max_size=3).map(lambda c: tuple(sorted(set(c))))
    if isinstance(kind, OperateurRef):
        return st.none() | st.sampled_from(refs["operateurs"])
    if isinstance(kind, DepartementRef):
        return st.just("14")
    if field == "code_postal":
        return st.none() | st.integers(0, 999).map(lambda n: f"14{n:03d}")
    if field == "siret":
        return st.none()
    if isinstance(kind, Code):
        return st.none() | st.from_regex(r"[0-9A-Z]{%d}" % min(kind.max_len, 9), fullmatch=True)
    if isinstance(kind, Text):
        return st.none() | TEXT.map(str.strip).filter(bool)
    if isinstance(kind, Integer):
        return st.none() | st.integers(0, 10_000)
    if isinstance(kind, Number):
        low = 0 if kind.minimum is not None else -10 ** 9
        return st.none() | st.integers(low * 100, 10 ** 11).map(lambda n: Decimal(n) / 100)
    if isinstance(kind, Coordinate):
        return st.none() | st.integers(-int(kind.limit * 1e6), int(kind.limit * 1e6)).map(lambda n: n / 1e6)
    if isinstance(kind, Month):
        return st.dates(dt.date(1990, 1, 1), dt.date(2010, 12, 1)).map(lambda d: d.replace(day=1))
    if isinstance(kind, Date):
        return st.none() | st.dates(dt.date(1950, 1, 1), dt.date(2090, 12, 31))
    if isinstance(kind, Year):
        return st.integers(1990, 2015)
    if isinstance(kind, Boolean):
        return st.none() | st.booleans()
    if isinstance(kind, Choice):
        return st.sampled_from(list(kind.enum_cls))
    raise AssertionError(f"no strategy for {field}")


def _record_values(sheet, refs) -> st.SearchStrategy:
    fields = {}
    for column in sheet.columns:
        if column.read_only or column.field in ("debut_autorisation", "debut_convention", "date_debut"):
            continue
        fields[column.field] = values_for(column, refs)
    if sheet.name == "Structures":
        fields["code_dna"] = st.integers(0, 9999).map(lambda n: f"Q{n:04d}")
        fields["type"] = st.sampled_from(list(BY_NAME["Structures"].column("type").kind.enum_cls))
    if sheet.name == "Opérateurs":
        fields["nom"] = st.integers(0, 10 ** 6).map(lambda n: f"Opérateur hypothèse {n}")
    if sheet.name == "Conventions":
        fields["reference"] = st.integers(0, 10 ** 6).map(lambda n: f"HYP-{n}")
    for required in ("adresse",):
        if required in fields:
            fields[required] = TEXT.map(str.strip).filter(bool)
    return st.lists(st.fixed_dictionaries(fields), min_size=1, max_size=4)


@pytest.fixture(scope="module")
def refs(app):
    with app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from models import Departement, Operateur, Structure

        codes = db.session.scalars(select(Structure.code_dna).join(Departement)
                                   .where(Departement.code == "14").order_by(Structure.code_dna)).all()
        ops = db.session.scalars(select(Operateur.nom).order_by(Operateur.nom).limit(20)).all()
    return {"codes": codes, "operateurs": ops}


def _export_new_rows(sheet, before: int) -> bytes:
    from app.extensions import db
    from exports.queries import sheet_rows
    from exports.writer import WorkbookWriter

    out = io.BytesIO()
    writer = WorkbookWriter(out)
    id_col = sheet.ids[2] if sheet.name == "Adresses" else sheet.ids[0]
    writer.add_sheet(sheet, sheet_rows(db.session, sheet, NATIONAL, where=id_col > before))
    writer.add_meta("hypothesis")
    writer.close()
    return out.getvalue()


def _insert(sheet, rows: list[dict]) -> int:
    """Write generated rows through the import's own writer; returns the id before them."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.sheets import Lookups
    from imports.apply import Applier
    from imports.result import Record

    model = BY_NAME["Adresses"].ids[2].class_ if sheet.name == "Adresses" else sheet.model
    before = db.session.scalar(select(func.max(model.id))) or 0
    seen, records = set(), []
    for n, values in enumerate(rows):
        key = ("nouvelle", n) if sheet.name == "Adresses" else tuple(values[f] for f in sheet.key)
        if key in seen:
            continue
        seen.add(key)
        records.append(Record(sheet, key, n + 2, sheet.name, values=dict(values), status="new"))
    Applier(db.session, Lookups(db.session)).apply(records)
    return before


@pytest.mark.parametrize("name", [s.name for s in SHEETS])
def test_random_rows_round_trip_with_zero_changes(app, refs, name):
    sheet = BY_NAME[name]

    @SETTINGS
    @given(rows=_record_values(sheet, refs))
    def check(rows):
        from app.extensions import db
        from imports.pipeline import ImportCommand

        with app.app_context():
            try:
                before = _insert(sheet, rows)
                data = _export_new_rows(sheet, before)
                result = ImportCommand(data, "rt.xlsx", NATIONAL).validate()
                assert result.problem is None and result.errors == [] and result.warnings == []
                assert [r.change_dict() for r in result.changes] == []
                assert result.counts[name]["unchanged"] >= 1
            finally:
                db.session.rollback()

    check()


@pytest.mark.parametrize("name", [s.name for s in SHEETS])
def test_random_cell_edits_are_exactly_the_changes(app, refs, name):
    sheet = BY_NAME[name]
    with app.app_context():
        from app.extensions import db
        from exports.queries import sheet_rows
        from exports.writer import WorkbookWriter

        out = io.BytesIO()
        writer = WorkbookWriter(out)
        rows = []
        for row in sheet_rows(db.session, sheet, NATIONAL):
            rows.append(row)
            if len(rows) == 40:
                break
        writer.add_sheet(sheet, rows)
        writer.close()
        original = out.getvalue()
    columns = [sheet.column(f) for f in EDITABLE[name]]
    edits = st.lists(st.tuples(st.integers(0, len(rows) - 1), st.sampled_from(columns)).flatmap(
        lambda rc: st.tuples(st.just(rc[0]), st.just(rc[1]), values_for(rc[1], refs).filter(
            lambda v: v is not None or not rc[1].required))), min_size=1, max_size=6)

    @SETTINGS
    @given(changes=edits)
    def check(changes):
        from imports.pipeline import ImportCommand

        book = openpyxl.load_workbook(io.BytesIO(original))
        ws = book[sheet.name]
        expected = {}
        for r, column, value in changes:
            c = sheet.columns.index(column)
            rendered = column.kind.render(value) if value is not None else None
            ws.cell(r + 2, c + 1).value = rendered
            key = tuple(rows[r][sheet.columns.index(sheet.column(f))] for f in sheet.key)
            if column.kind.same(rows[r][c], value):
                expected.get(key, {}).pop(column.label, None)
            else:
                expected.setdefault(key, {})[column.label] = True
        expected = {k: set(v) for k, v in expected.items() if v}
        buffer = io.BytesIO()
        book.save(buffer)
        with app.app_context():
            from app.extensions import db

            try:
                result = ImportCommand(buffer.getvalue(), "edit.xlsx", NATIONAL).validate()
            finally:
                db.session.rollback()
        assert [e.as_dict() for e in result.errors] == []
        found = {tuple(r.key): {sheet.by_field[f].label for f in r.changed} for r in result.changes}
        found = {_norm(k): v for k, v in found.items()}
        assert found == {_norm(k): v for k, v in expected.items()}

    check()


def _norm(key: tuple) -> tuple:
    return tuple(k.date() if isinstance(k, dt.datetime) else k for k in key)


# --- the reader alone: whatever a spreadsheet program writes, read back as written ----------

PLAIN_TEXT = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "Zs", "S")),
                     min_size=1, max_size=30).filter(str.strip)
CELLS = st.one_of(
    st.none(), PLAIN_TEXT, st.sampled_from(["=1/0", "'0123", "  espace ", "Oui", "1 234,50 €"]),
    st.integers(-2 ** 53 + 1, 2 ** 53 - 1), st.booleans(),
    st.floats(-1e12, 1e12, allow_nan=False).map(lambda x: float(f"{x:.12g}")),
    # calamine reads a date cell below 1 as a time of day: 1 January 1904 (0 in a 1904
    # workbook) comes back as 00:00, a limit of python-calamine left as it is
    st.dates(dt.date(1904, 1, 2), dt.date(2200, 12, 31)))
GRIDS = st.lists(st.lists(CELLS, min_size=1, max_size=6), min_size=1, max_size=8)
READER = settings(SETTINGS, max_examples=60)   # no database: more examples for the same time


def _grid_workbook(grid: list[list], date1904: bool = False) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "date_1904": date1904,
                                     "strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    ws = book.add_worksheet("Grille")
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if isinstance(value, bool):
                ws.write_boolean(r, c, value)
            elif isinstance(value, (int, float)):
                ws.write_number(r, c, value)
            elif isinstance(value, dt.date):
                ws.write_datetime(r, c, value, date)
            elif value is not None:
                ws.write_string(r, c, value)
    book.close()
    return out.getvalue()


def _expected(grid: list[list]) -> list[tuple[int, list]]:
    rows = []
    for r, row in enumerate(grid, 1):
        values = [int(v) if isinstance(v, float) and v.is_integer() else v for v in row]
        if any(v is not None for v in values):
            rows.append((r, values))
    return rows


def _read(data: bytes) -> list[tuple[int, list]]:
    from imports.reader import read_file

    (sheet,) = read_file(data, "grille.xlsx", 1000, 10)
    return [(n, _trim(values)) for n, values in sheet.rows]


def _trim(values: list) -> list:
    values = list(values)
    while values and values[-1] is None:
        values.pop()
    return values


def _with_prefix(data: bytes) -> bytes:
    """The same workbook with every SpreadsheetML tag under ``x:`` (read by the tag walk)."""
    import re
    import zipfile

    tag = re.compile(rb"<(/?)(?![\w.-]+:)([A-Za-z][\w.-]*)")
    main = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            part = src.read(info)
            if info.filename.startswith("xl/") and main in part:
                part = tag.sub(rb"<\1x:\2", part.replace(main, main.replace(b"xmlns=", b"xmlns:x=")))
            dst.writestr(info, part)
    return out.getvalue()


@READER
@given(grid=GRIDS, date1904=st.booleans())
def test_reader_gives_back_the_cells_written(grid, date1904):
    data = _grid_workbook(grid, date1904)
    expected = [(n, _trim(v)) for n, v in _expected(grid)]
    assert _read(data) == expected
    assert _read(_with_prefix(data)) == expected      # the tag walk places cells the same way


@READER
@given(grid=GRIDS, marked=st.lists(st.tuples(st.integers(1, 8), st.integers(1, 6)), max_size=4))
def test_annotated_file_reads_back_like_the_original(grid, marked):
    """One parser: the annotated file holds the cells the import read, plus the Erreurs sheet."""
    from imports.annotate import annotate
    from imports.reader import read_file
    from imports.result import CellIssue

    data = _grid_workbook(grid)
    errors = [CellIssue("Places", r, "PMR", None, f"erreur {r}:{c}", "Grille", c) for r, c in marked]
    sheets = read_file(annotate(data, "grille.xlsx", errors), "annote.xlsx", 1000, 10)
    assert [s.name for s in sheets] == ["Erreurs", "Grille"]
    assert [(n, _trim(v)) for n, v in sheets[1].rows] == [(n, _trim(v)) for n, v in _expected(grid)]
    assert len(sheets[0].rows) == 1 + len(errors)
