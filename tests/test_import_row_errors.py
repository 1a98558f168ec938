"""Issue 15, item 4: every error of a row is reported — each wrong cell, a field the gate
refuses, a domain rule — in the preview, the command line and the annotated file; a total or
subtotal row is skipped with a note naming its row, in every sheet."""
from __future__ import annotations

import io
import json

import openpyxl
import pytest

from tests.conftest import client_for, run_cli
from tests.test_campagnes import csrf
from tests.test_campagnes_scope import region_campaign  # noqa: F401  (fixture)
from tests.test_import_gate import (assert_same, cli_import, park, snapshot,  # noqa: F401
                                    web_import, workbook)

RESERVED = "réservé aux services de l"


def _operateur_row(park):  # noqa: F811
    """An opérateur's places line: a State field changed, two wrong values beside it."""
    own = park["own"]
    return workbook(Places=[["Code DNA", "Année", "Places autorisées", "PMR", "LGBT"],
                            [own["code"], own["places"], 987654, "beaucoup", "1,5"]])


def test_the_command_line_reports_every_error_of_the_row(fresh_app, tmp_path, park):  # noqa: F811
    before = snapshot(fresh_app)
    result = cli_import(fresh_app, tmp_path, _operateur_row(park), "operateur", "--json")
    assert result.exit_code == 1, result.output
    errors = json.loads(result.output)["errors"]
    assert sorted((e["row"], e["column"]) for e in errors) == [
        (2, "LGBT"), (2, "PMR"), (2, "Places autorisées")]
    by_column = {e["column"]: e["message"] for e in errors}
    assert RESERVED in by_column["Places autorisées"]
    assert "beaucoup" in by_column["PMR"] and "entier" in by_column["LGBT"]
    text = cli_import(fresh_app, tmp_path, _operateur_row(park), "operateur").output
    for column in ("Places autorisées", "PMR", "LGBT"):
        assert f"ERREUR Places ligne 2, colonne {column} : " in text, text
    assert_same(fresh_app, before)


def _marked(book: openpyxl.Workbook, sheet: str, row: int) -> dict[str, str]:
    """The annotated file's red cells of one row: coordinate → comment."""
    return {cell.coordinate: cell.comment.text for cell in book[sheet][row] if cell.comment}


def _listed(book: openpyxl.Workbook) -> list[tuple]:
    """The annotated file's « Erreurs » sheet: (row, column) of each error."""
    return sorted((r[2], r[3]) for r in book["Erreurs"].iter_rows(min_row=2, values_only=True))


def test_the_annotated_file_marks_every_error_of_an_operateurs_row(app, park):  # noqa: F811
    from imports.annotate import annotate
    from imports.cli import user_scope
    from imports.pipeline import preview

    data = _operateur_row(park)
    with app.app_context():
        result = preview(data, "classeur.xlsx", user_scope("operateur")[0])
        book = openpyxl.load_workbook(io.BytesIO(annotate(data, "classeur.xlsx", result.errors)))
    marked = _marked(book, "Places", 2)
    assert sorted(marked) == ["C2", "D2", "E2"]
    assert RESERVED in marked["C2"] and "beaucoup" in marked["D2"] and "entier" in marked["E2"]
    assert _listed(book) == [(2, "LGBT"), (2, "PMR"), (2, "Places autorisées")]


def test_the_annotated_file_imported_again_passes_over_its_errors_sheet(app, park):  # noqa: F811
    """The agent corrects the annotated file and imports it again: its « Erreurs » sheet, the
    list of the first preview's errors, is never read as data; an agent's own sheet named so,
    with the workbook's headers, still is."""
    from imports.annotate import annotate
    from imports.cli import user_scope
    from imports.pipeline import preview

    data = _operateur_row(park)
    own = park["own"]
    with app.app_context():
        scope = user_scope("operateur")[0]
        first = preview(data, "classeur.xlsx", scope)
        again = preview(annotate(data, "classeur.xlsx", first.errors), "annote.xlsx", scope)
        named = preview(workbook(Erreurs=[["Code DNA", "Année", "PMR"],
                                          [own["code"], own["places"], "beaucoup"]]),
                        "classeur.xlsx", scope)
    assert len(first.errors) == 3
    assert [(e.sheet, e.row, e.column, e.message) for e in again.errors] == \
        [(e.sheet, e.row, e.column, e.message) for e in first.errors]
    assert any(w.startswith("Feuille « Erreurs » ignorée : c'est la liste des erreurs") for w in again.warnings)
    assert [(e.source_sheet, e.column) for e in named.errors] == [("Erreurs", "PMR")]
    assert not any("ignorée" in w for w in named.warnings)


def test_an_operateurs_campaign_upload_previews_every_error_of_the_row(fresh_app, region_campaign):  # noqa: F811
    client = client_for(fresh_app, "operateur")
    book = openpyxl.load_workbook(io.BytesIO(
        client.get(f"/campagnes/saisie/{region_campaign['id']}/classeur.xlsx").data))
    ws = book["Places"]
    headers = [cell.value for cell in ws[1]]
    for label, value in (("Places autorisées", 7654321), ("PMR", "beaucoup"), ("LGBT", "1,5")):
        ws.cell(row=2, column=headers.index(label) + 1, value=value)
    out = io.BytesIO()
    book.save(out)
    sent = client.post(f"/campagnes/saisie/{region_campaign['id']}/envoyer", data={
        "csrf_token": csrf(client, "/campagnes/saisie/"), "fichier": (io.BytesIO(out.getvalue()), "f.xlsx")})
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert RESERVED in page and "beaucoup" in page and "nombre entier attendu" in page
    assert "Appliquer le classeur" not in page


def test_an_agents_preview_and_annotated_file_report_every_error_of_the_row(fresh_app, park):  # noqa: F811
    """An opérateur of another région refused by the gate, two wrong values beside it."""
    mine = park["mine"]
    data = workbook(Structures=[["Code DNA", "Nom", "Opérateur", "Code postal", "Date de création"],
                                [mine["code"], mine["nom"], park["far_op"], "14OOO", "31/02/2020"]])
    client = client_for(fresh_app, "calvados")
    batch, page = web_import(client, data)
    assert "hors de votre périmètre" in page and "14OOO" in page and "31/02/2020" in page
    assert "Appliquer l" not in page
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/imports/{batch}/annote").data))
    assert sorted(_marked(book, "Structures", 2)) == ["C2", "D2", "E2"]
    assert _listed(book) == [(2, "Code postal"), (2, "Date de création"), (2, "Opérateur")]


def test_a_broken_rule_and_a_wrong_value_are_both_reported(app, tmp_path, park):  # noqa: F811
    mine = park["mine"]
    data = workbook(Places=[["Code DNA", "Année", "Places autorisées", "PMR", "LGBT"],
                            [mine["code"], mine["year"], 10, 50, "trois"]])
    result = cli_import(app, tmp_path, data, "calvados", "--dry-run", "--json")
    errors = json.loads(result.output)["errors"]
    assert sorted(e["column"] for e in errors) == ["LGBT", "PMR"], errors
    assert "trois" in next(e["message"] for e in errors if e["column"] == "LGBT")


def test_a_new_row_with_wrong_cells_reports_each_cell_once(app, tmp_path):
    """The wrong cells only: no « obligatoire » nor « hors périmètre » echo of a cell already
    in error (a département unknown is not a record put outside the territory)."""
    data = workbook(Structures=[
        ["Code DNA", "Type", "Département", "Code postal", "Date de création", "LGBT"],
        ["Z1401", "Foyer", "99X", "ABCDE", "32/13/2020", "peut-être"]])
    result = cli_import(app, tmp_path, data, "calvados", "--dry-run", "--json")
    errors = json.loads(result.output)["errors"]
    assert sorted(e["column"] or "(ligne)" for e in errors) == [
        "Code postal", "Date de création", "Département", "LGBT", "Type"], errors


# --- total and subtotal rows -------------------------------------------------------------------

#: per sheet, the column a totals row's label sits in when the key cell is empty
LABEL_COLUMN = {"Structures": "Nom", "Places": "Places autorisées", "Budgets": "Commentaire",
                "Activité": "Places occupées", "Adresses": "Adresse",
                "Opérateurs": "Direction générale", "Conventions": "Opérateur"}
TOTALS = ["Total", "TOTAL 2024", "Sous-total Calvados", "Totaux"]


@pytest.fixture(scope="module")
def normandie_export(app, tmp_path_factory):
    """The Normandie workbook as BHasile exports it: each sheet's headers and first row."""
    out = tmp_path_factory.mktemp("totaux") / "normandie.xlsx"
    result = run_cli(app, "bhasile", "export", str(out), "--region", "28")
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    return {name: [list(r) for r in book[name].iter_rows(max_row=2, values_only=True)]
            for name in LABEL_COLUMN}


@pytest.mark.parametrize("sheet", list(LABEL_COLUMN))
def test_total_rows_are_skipped_with_a_note_naming_them(app, tmp_path, normandie_export, sheet):
    headers, first = normandie_export[sheet]
    assert first[0] is not None or sheet == "Adresses"
    width = len(headers)
    rows = [headers, first]
    for label in TOTALS:   # the label in the key cell, figures beside it
        rows.append([label] + [None] * (width - 1))
    in_column = [None] * width
    in_column[headers.index(LABEL_COLUMN[sheet])] = "Total du département"
    rows.append(in_column)
    path = tmp_path / "totaux.xlsx"
    path.write_bytes(workbook(**{sheet: rows}))
    result = run_cli(app, "bhasile", "import", str(path), "--dry-run", "--json")
    summary = json.loads(result.output)
    assert result.exit_code == 0 and summary["errors"] == [], summary["errors"]
    counts = summary["sheets"][sheet]
    assert counts["skipped"] == 5 and counts["unchanged"] == 1, counts
    notes = [w for w in summary["warnings"] if "total" in w]
    assert notes == [f"Feuille « {sheet} », ligne {n} : ligne de total ignorée." for n in range(3, 8)]


def test_a_wide_sheet_skips_its_total_row_and_the_preview_says_so(app, park):  # noqa: F811
    mine = park["mine"]
    data = workbook(Parc=[["Code DNA", "Nom", "Places autorisées 2024", "PMR 2024"],
                          [mine["code"], mine["nom"], None, None],
                          [None, "Total Calvados", 1234, 12]])
    client = client_for(app, "calvados")
    _batch, page = web_import(client, data)
    assert "ligne 3 : ligne de total ignorée" in page
