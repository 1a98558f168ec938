"""The sheet schema: how cells are read (tolerance rules) and how headers are recognised."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from app.sheets import SHEETS, CellError
from app.sheets.kinds import Boolean, Choice, Code, Date, Integer, Month, Number, Year
from app.sheets.normalize import header_key
from app.sheets.refs import DepartementRef
from imports.headers import detect
from imports.reader import RawSheet
from models.enums import Public, TypeStructure


@pytest.mark.parametrize("raw, expected", [
    ("1 234,5", Decimal("1234.50")), ("1\u00a0234,50 €", Decimal("1234.50")),
    ("1\u202f568\u00a0552,55 €", Decimal("1568552.55")), ("12 %", Decimal("0.12")),
    (1234.5, Decimal("1234.50")), ("1.234,56", Decimal("1234.56")), ("-3,5", Decimal("-3.50")),
])
def test_french_numbers(raw, expected):
    assert Number(2).clean(raw) == expected


def test_integers_refuse_decimals_and_negatives():
    assert Integer().clean("1 200") == 1200
    with pytest.raises(CellError):
        Integer().clean("12,5")
    with pytest.raises(CellError):
        Integer().clean(-4)
    with pytest.raises(CellError, match="n'est pas un nombre"):
        Integer().clean("beaucoup")


@pytest.mark.parametrize("raw, expected", [
    ("31/12/2025", dt.date(2025, 12, 31)), ("31/12/25", dt.date(2025, 12, 31)),
    ("31.12.2025", dt.date(2025, 12, 31)), ("2025-12-31", dt.date(2025, 12, 31)),
    ("05/01/2024", dt.date(2024, 1, 5)),  # jj/mm, never mm/jj
    (dt.datetime(2023, 1, 1), dt.date(2023, 1, 1)), (45292, dt.date(2024, 1, 1)),
])
def test_dates(raw, expected):
    assert Date().clean(raw) == expected


def test_impossible_dates():
    for raw in ("12/31/2025", "hier", "31/02/2024"):
        with pytest.raises(CellError):
            Date().clean(raw)


@pytest.mark.parametrize("raw", ["01/2024", "2024-01", "janvier 2024", dt.datetime(2024, 1, 17), "15/01/2024"])
def test_months(raw):
    assert Month().clean(raw) == dt.date(2024, 1, 1)


def test_years():
    assert Year().clean(2024) == Year().clean("2024") == Year().clean(dt.date(2024, 5, 1)) == 2024
    with pytest.raises(CellError):
        Year().clean("deux mille")


@pytest.mark.parametrize("raw, expected", [
    ("Oui", True), ("o", True), ("X", True), ("Vrai", True), (1, True), ("yes", True), (True, True),
    ("Non", False), ("N", False), ("faux", False), (0, False), ("No", False),
])
def test_booleans(raw, expected):
    assert Boolean().clean(raw) is expected


def test_enumerations_by_code_or_label():
    assert Choice(TypeStructure).clean("huda") is TypeStructure.HUDA
    assert Choice(Public).clean("personnes isolees") is Public.PERSONNES_ISOLEES
    assert Choice(Public).clean("TOUT_PUBLIC") is Public.TOUT_PUBLIC
    with pytest.raises(CellError, match="HOTEL"):
        Choice(TypeStructure).clean("HOTEL")


def test_codes_keep_leading_zeros():
    assert Code(5, pad=5, digits=True).clean(1000) == "01000"
    assert Code(10).clean(" c1401 ") == "C1401"


def test_departements(app):
    with app.app_context():
        from app.extensions import db
        from app.sheets import Lookups

        lookups = Lookups(db.session)
        kind = DepartementRef()
        assert kind.clean("14", lookups) == kind.clean(14, lookups) == "14"
        assert kind.clean("14 - Calvados", lookups) == kind.clean("calvados", lookups) == "14"
        assert kind.clean("1", lookups) == "01" and kind.clean("2a", lookups) == "2A"
        with pytest.raises(CellError, match="inconnu"):
            kind.clean("99", lookups)


def test_header_matching_ignores_case_accents_order_and_numbering():
    assert header_key("N° DNA")[0] == header_key("dna")[0]
    assert header_key("Numéro DNA")[0] == header_key("no DNA")[0]
    assert header_key("Début convention")[0] == header_key("CONVENTION (début)")[0]
    assert header_key("Places autorisées 2025") == (header_key("places autorisees")[0], 2025)
    assert header_key("DGF 2023") == ("dgf", 2023)


def test_every_label_comes_from_the_labels_and_columns_have_grid_info():
    from app.labels import LABELS

    for sheet in SHEETS:
        for column in sheet.columns:
            assert column.label == str(LABELS[column.field])
            info = column.grid()
            assert info["editor"] and "read_only" in info and "choices" in info
    assert SHEETS[0].column("type").grid()["choices"] == ["CADA", "HUDA", "CPH", "CAES", "PRAHDA"]


def _sheet(name: str, rows: list[list], merged=()) -> RawSheet:
    return RawSheet(name, [(i + 1, row) for i, row in enumerate(rows)], list(merged))


def test_header_row_below_titles_and_by_headers_alone():
    plan = detect(_sheet("Feuil1", [["Suivi 2025"], [], ["DNA", "Exercice", "Capacité", "Places PMR"],
                                    ["C1401", 2025, 55, 3]]))
    assert plan.primary.name == "Places" and plan.header_pos == 2
    assert [m.column.field for m in plan.mappings] == ["code_dna", "annee", "places_autorisees", "pmr"]


def test_two_row_headers_under_a_merged_group():
    rows = [["Identification", None, None, "Convention", None],
            ["N° DNA", "Nom de la structure", "Dépt", "Début", "Fin"]]
    plan = detect(_sheet("Suivi", rows, [(1, 1, 1, 3), (1, 4, 1, 5)]))
    fields = {m.column.field for m in plan.mappings}
    assert {"debut_convention", "fin_convention", "departement", "nom"} <= fields


def test_wide_sheet_spreads_columns_over_their_sheets():
    rows = [["Code DNA", "Nom", "LGBT", "LGBT 2025", "DGF 2023", "ETP 2023", "Blabla"]]
    plan = detect(_sheet("Tableau", rows))
    where = {m.header: (m.sheet.name, m.column.field, m.year) for m in plan.mappings}
    assert where["LGBT"] == ("Structures", "lgbt", None)
    assert where["LGBT 2025"] == ("Places", "lgbt", 2025)
    assert where["DGF 2023"] == ("Budgets", "dotation_accordee", 2023)
    assert any("Blabla" in w for w in plan.warnings)
