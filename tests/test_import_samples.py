"""The agents' sample files import as they are; the error sample reports its cells."""
from __future__ import annotations

import json

import pytest

from tests.conftest import SAMPLES, run_cli


def _import(app, name: str, *options: str) -> tuple[int, dict]:
    result = run_cli(app, "bhasile", "import", str(SAMPLES / name), "--json", *options)
    return result.exit_code, json.loads(result.output)


@pytest.fixture()
def loaded(fresh_app):
    """The demo park plus the canonical sample workbook (it creates the sample opérateurs)."""
    code, report = _import(fresh_app, "classeur-exemple.xlsx")
    assert code == 0, report["errors"]
    return fresh_app


def test_canonical_workbook_imports_then_is_unchanged(loaded):
    code, report = _import(loaded, "classeur-exemple.xlsx", "--dry-run")
    assert code == 0
    assert report["changes"] == [] and report["errors"] == [] and report["warnings"] == []
    assert report["sheets"]["Places"]["unchanged"] == 30


def test_agent_tracking_sheet_with_titles_groups_and_wide_columns(loaded):
    with loaded.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from models import Structure

        convention_end = db.session.scalar(select(Structure.fin_convention)
                                           .where(Structure.code_dna == "C1401"))
    code, report = _import(loaded, "suivi-ddets-calvados.xlsx")
    assert code == 0, report["errors"]
    assert report["sheets"]["Structures"]["skipped"] == 1  # the TOTAL row
    assert any("Commentaire interne" in w for w in report["warnings"])
    with loaded.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from models import BudgetAnnee, PlacesAnnee, Structure

        c1401 = db.session.scalar(select(Structure).where(Structure.code_dna == "C1401"))
        # the sheet's convention dates are read-only: the structure's come from its conventions
        # (models/convention.py), one source of truth; the import leaves them as they were
        assert c1401.fin_convention == convention_end
        assert c1401.lgbt is True                             # "X"
        places = db.session.scalar(select(PlacesAnnee).where(
            PlacesAnnee.structure_id == c1401.id, PlacesAnnee.annee == 2025))
        assert (places.places_autorisees, places.pmr) == (55, 3)
        budget = db.session.scalar(select(BudgetAnnee).where(
            BudgetAnnee.structure_id == c1401.id, BudgetAnnee.annee == 2024))
        assert float(budget.dotation_accordee) == 427826.36   # "427 826,36 €"
        assert float(budget.cout_journalier) == 21.25          # cached formula value
    code, again = _import(loaded, "suivi-ddets-calvados.xlsx", "--dry-run")
    assert code == 0 and again["changes"] == []


def test_ofii_csv_in_windows_1252_with_semicolons(loaded):
    code, report = _import(loaded, "activite-ofii-exemple.csv")
    assert code == 0, report["errors"]
    assert report["sheets"]["Activité"]["new"] + report["sheets"]["Activité"]["updated"] == 36


def test_error_sample_reports_every_expected_cell(app):
    result = run_cli(app, "bhasile", "import", str(SAMPLES / "erreurs-exemple.xlsx"), "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    found = {(e["sheet"], e["row"], e["column"]) for e in report["errors"]}
    expected = json.loads((SAMPLES / "erreurs-exemple.expected.json").read_text())
    for cell in expected["errors_at_least"]:
        assert (cell["sheet"], cell["row"], cell["column"]) in found, cell
    messages = " ".join(e["message"] for e in report["errors"])
    assert "formule sans valeur calculée" in messages
    assert "en double" in messages


def test_errors_mean_nothing_written(fresh_app):
    with fresh_app.app_context():
        from sqlalchemy import func, select

        from app.extensions import db
        from models import Changement

        before = db.session.scalar(select(func.count(Changement.id)))
    result = run_cli(fresh_app, "bhasile", "import", str(SAMPLES / "erreurs-exemple.xlsx"))
    assert result.exit_code == 1
    with fresh_app.app_context():
        assert db.session.scalar(select(func.count(Changement.id))) == before


def test_changes_are_in_the_history_tagged_with_the_batch(fresh_app):
    result = run_cli(fresh_app, "bhasile", "import", str(SAMPLES / "classeur-exemple.xlsx"),
                     "--user", "normandie")
    assert result.exit_code == 0, result.output
    with fresh_app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from models import Changement
        from models.imports import ImportBatch

        batch = db.session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc())).first()
        assert (batch.status, batch.username, batch.origin) == ("applique", "normandie", "cli")
        rows = db.session.scalars(select(Changement).where(Changement.batch_id == batch.id)).all()
        assert rows and {r.origin for r in rows} == {"import"}
        assert {r.username for r in rows} == {"normandie"}


def _adresses_file(tmp_path, rows) -> str:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Adresses"
    book.active.append(["ID", "Code DNA", "Adresse", "Code postal", "Commune", "Répartition", "Année",
                        "Places autorisées", "QPV", "Logement social"])
    for row in rows:
        book.active.append(row)
    path = tmp_path / "adresses.xlsx"
    book.save(path)
    return str(path)


def test_address_ids_new_addresses_and_new_years(fresh_app, tmp_path):
    with fresh_app.app_context():
        from sqlalchemy import func, select

        from app.extensions import db
        from models import Adresse, AdresseAnnee, Structure

        adresse = db.session.scalars(select(Adresse).join(Structure).where(Structure.code_dna == "C1401")).first()
        known, count = adresse.id, db.session.scalar(select(func.count(Adresse.id)))
        row = [adresse.adresse, adresse.code_postal, adresse.commune, "Diffus"]
    path = _adresses_file(tmp_path, [
        [known, "C1401", *row, 2015, 7, "Non", "Oui"],             # a new year of a known address
        [None, "C1401", "3 rue Neuve", "14000", "Caen", "Collectif", 2025, 12, "Oui", "Non"],
        [999999, "C1401", "Nulle part", "14000", "Caen", "Diffus", 2025, 1, "Non", "Non"],
    ])
    result = run_cli(fresh_app, "bhasile", "import", path, "--json")
    report = json.loads(result.output)
    assert result.exit_code == 1
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(4, "ID")]
    path = _adresses_file(tmp_path, [[known, "C1401", *row, 2015, 7, "Non", "Oui"],
                                     [None, "C1401", "3 rue Neuve", "14000", "Caen", "Collectif", 2025, 12, "Oui", "Non"]])
    result = run_cli(fresh_app, "bhasile", "import", path, "--json")
    assert result.exit_code == 0, result.output
    with fresh_app.app_context():
        assert db.session.scalar(select(func.count(Adresse.id))) == count + 1
        year = db.session.scalar(select(AdresseAnnee).where(AdresseAnnee.adresse_id == known,
                                                            AdresseAnnee.annee == 2015))
        assert (year.places_autorisees, year.qpv, year.logement_social) == (7, False, True)
