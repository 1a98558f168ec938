"""Unusable or wrong files: a clear French message, exit code 1 or 2, nothing written."""
from __future__ import annotations

import io
import json
import zipfile

import openpyxl
import pytest

from tests.conftest import SAMPLES, run_cli

CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def _xlsx(rows: list[list], title: str = "Places") -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = title
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _run(app, tmp_path, data: bytes, name: str, *options: str) -> tuple[int, dict]:
    path = tmp_path / name
    path.write_bytes(data)
    result = run_cli(app, "bhasile", "import", str(path), "--json", *options)
    return result.exit_code, json.loads(result.output)


def _count_changes(app) -> int:
    with app.app_context():
        from sqlalchemy import func, select

        from app.extensions import db
        from models import Changement

        return db.session.scalar(select(func.count(Changement.id)))


@pytest.mark.parametrize("data, name, words", [
    (b"", "vide.xlsx", "vide"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image.xlsx", "endommagé"),
    (b"%PDF-1.4 bonjour", "rapport.pdf", "ni un classeur"),
    (CFB, "ancien.xls", "endommagé"),
    (CFB + "EncryptedPackage".encode("utf-16-le"), "protege.xlsx", "mot de passe"),
    ("Code DNA;Mois\r\nC1401;01/2024\r\n".encode("utf-16"), "activite.csv", "Encodage"),
], ids=["vide", "pas-un-classeur", "pdf", "xls-endommage", "mot-de-passe", "encodage"])
def test_unusable_file_exit_2_with_french_message(app, tmp_path, data, name, words):
    code, report = _run(app, tmp_path, data, name)
    assert code == 2
    assert words in report["problem"]


def test_truncated_workbook(app, tmp_path):
    data = (SAMPLES / "classeur-exemple.xlsx").read_bytes()
    code, report = _run(app, tmp_path, data[: len(data) // 2], "tronque.xlsx")
    assert code == 2 and "endommagé" in report["problem"]


def test_zip_bomb_is_refused_before_parsing(app, tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (3 * 1024 * 1024))
    app.config["BHASILE_IMPORT_MAX_UNZIPPED_MB"], old = 2, app.config["BHASILE_IMPORT_MAX_UNZIPPED_MB"]
    try:
        code, report = _run(app, tmp_path, out.getvalue(), "bombe.xlsx")
    finally:
        app.config["BHASILE_IMPORT_MAX_UNZIPPED_MB"] = old
    assert code == 2 and "décompressé" in report["problem"]


def test_too_many_zip_entries(app, tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(2500):
            archive.writestr(f"x/{i}.xml", "")
    code, report = _run(app, tmp_path, out.getvalue(), "entrees.xlsx")
    assert code == 2 and "trop d'éléments" in report["problem"]


def test_too_many_rows(app, tmp_path):
    rows = [["Code DNA", "Année", "Places autorisées", "PMR"]] + [["C1401", 2000 + i, 10, 1] for i in range(12)]
    app.config["BHASILE_IMPORT_MAX_ROWS"], old = 10, app.config["BHASILE_IMPORT_MAX_ROWS"]
    try:
        code, report = _run(app, tmp_path, _xlsx(rows), "long.xlsx")
    finally:
        app.config["BHASILE_IMPORT_MAX_ROWS"] = old
    assert code == 2 and "dépasse 10 lignes" in report["problem"]


def test_headers_only(app, tmp_path):
    code, report = _run(app, tmp_path, _xlsx([["Code DNA", "Année", "Places autorisées", "PMR"]]), "vide.xlsx")
    assert code == 2 and "aucune ligne" in report["problem"]


def test_unknown_sheets_only(app, tmp_path):
    code, report = _run(app, tmp_path, _xlsx([["Nom", "Prénom", "Âge"], ["Dupont", "Jean", 40]], "Agents"),
                        "inconnu.xlsx")
    assert code == 2 and "Aucune feuille reconnue" in report["problem"]


def test_formula_without_cached_value(app, tmp_path):
    rows = [["Code DNA", "Année", "Places autorisées", "PMR"], ["C1401", 2024, "=10*5", 1]]
    code, report = _run(app, tmp_path, _xlsx(rows), "formule.xlsx")
    assert code == 1
    assert report["errors"][0]["column"] == "Places autorisées"
    assert report["errors"][0]["message"] == "formule sans valeur calculée"


def test_duplicate_keys_in_the_file(app, tmp_path):
    rows = [["Code DNA", "Année", "Places autorisées", "PMR"], ["C1401", 2024, 50, 1], [" c1401", "2024", 51, 1]]
    code, report = _run(app, tmp_path, _xlsx(rows), "doublon.xlsx")
    assert code == 1
    assert report["errors"][0]["row"] == 3 and "déjà ligne 2" in report["errors"][0]["message"]


def test_rows_outside_the_users_scope_are_errors(fresh_app, tmp_path):
    with fresh_app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from models import Departement, Structure

        outside = db.session.scalar(select(Structure.code_dna).join(Departement)
                                    .where(Departement.code == "75").limit(1))
    before = _count_changes(fresh_app)
    rows = [["Code DNA", "Année", "Places autorisées", "PMR"], [outside, 2024, 50, 1]]
    code, report = _run(fresh_app, tmp_path, _xlsx(rows), "hors.xlsx", "--user", "calvados")
    assert code == 1
    assert "hors de votre périmètre" in report["errors"][0]["message"]
    assert _count_changes(fresh_app) == before


def test_unchanged_rows_of_another_territory_are_errors_too(app, tmp_path):
    """Copying a Paris row as it stands into a Calvados file writes nothing, but it is still
    reported: a row outside the user's scope is never silently skipped."""
    with app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from models import Departement, PlacesAnnee, Structure

        code, annee, places = db.session.execute(
            select(Structure.code_dna, PlacesAnnee.annee, PlacesAnnee.places_autorisees)
            .join(PlacesAnnee, PlacesAnnee.structure_id == Structure.id).join(Departement)
            .where(Departement.code == "75").limit(1)).one()
    rows = [["Code DNA", "Année", "Places autorisées"], [code, annee, places]]
    status, report = _run(app, tmp_path, _xlsx(rows), "copie.xlsx", "--user", "calvados")
    assert status == 1
    assert [(e["value"], e["message"]) for e in report["errors"]] == [
        (code, "Enregistrement introuvable ou hors de votre périmètre.")]


def test_unknown_operateur_and_departement(app, tmp_path):
    rows = [["Code DNA", "Nom", "Type", "Opérateur", "Département"],
            ["C1401", "CADA", "CADA", "Association Inexistante", "14"],
            ["H1402", "HUDA", "HUDA", None, "Mordor"]]
    code, report = _run(app, tmp_path, _xlsx(rows, "Structures"), "refs.xlsx")
    assert code == 1
    messages = {(e["row"], e["column"]): e["message"] for e in report["errors"]}
    assert "opérateur inconnu" in messages[(2, "Opérateur")]
    assert "département inconnu" in messages[(3, "Département")]


def test_read_only_role_cannot_import(app, tmp_path):
    rows = [["Code DNA", "Année", "Places autorisées", "PMR"], ["C1401", 2024, 50, 1]]
    code, report = _run(app, tmp_path, _xlsx(rows), "lecteur.xlsx", "--user", "lecteur")
    assert code == 2 and "rôle" in report["problem"]


def test_wide_column_without_year_is_refused_unless_year_given(app, tmp_path):
    with app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from models import Structure

        code_dna = db.session.scalar(select(Structure.code_dna).order_by(Structure.id).limit(1))
    rows = [["Code DNA", "Nom", "Commune", "Dotation accordée"], [code_dna, None, None, "1 000,50 €"]]
    data = _xlsx(rows, "Suivi")
    code, report = _run(app, tmp_path, data, "sans-annee.xlsx")
    assert code == 1 and "l'année" in report["errors"][0]["message"]
    code, report = _run(app, tmp_path, data, "sans-annee.xlsx", "--dry-run", "--year", "2023")
    budget = [c for c in report["changes"] if c["sheet"] == "Budgets"]
    assert code == 0 and budget[0]["key"] == [code_dna, 2023]
    assert budget[0]["fields"]["Dotation accordée"][1] == 1000.5


@pytest.mark.parametrize("label", ["TOTAL", "Total Calvados", "Sous-total 14"])
def test_total_rows_are_skipped_with_a_note(app, tmp_path, label):
    """A total row, whether its key cell is empty or says « Total », is skipped and named in a
    warning; it is never a new structure with errors."""
    rows = [["Code DNA", "Notes", "Places autorisées 2024"],
            ["C1401", None, 55],
            [label, None, 55],
            [None, "Total général", 55]]
    code, report = _run(app, tmp_path, _xlsx(rows, "Suivi"), "totaux.xlsx", "--dry-run")
    assert report["errors"] == [] and code == 0
    assert report["sheets"]["Structures"]["skipped"] == 2
    assert [w for w in report["warnings"] if "total" in w] == [
        "Feuille « Suivi », ligne 3 : ligne de total ignorée.",
        "Feuille « Suivi », ligne 4 : ligne de total ignorée."]


def test_every_error_of_a_row_names_its_column(app, tmp_path):
    rows = [["Code DNA", "Année", "Places autorisées", "PMR", "Places à créer"],
            ["C1401", "deux mille", "beaucoup", "-3", "=1/0"]]
    data = _xlsx(rows)
    code, report = _run(app, tmp_path, data, "erreurs.xlsx")
    assert code == 1
    assert {e["column"] for e in report["errors"]} >= {"Année", "Places autorisées", "PMR"}
    assert all(e["column"] for e in report["errors"])
