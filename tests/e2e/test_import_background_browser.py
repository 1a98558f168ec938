"""A large import in a real browser: the upload answers at once with a progress page that
follows the check by itself (static script, CSP on), then shows the preview; « Appliquer »
runs in the background the same way and the batch page ends with the outcome."""
from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import select

from models import Departement, Structure


@pytest.fixture()
def everything_large(live_server):
    config = live_server.app.config
    previous = config.get("BHASILE_IMPORT_BACKGROUND_BYTES", 1_000_000)
    config["BHASILE_IMPORT_BACKGROUND_BYTES"] = 0   # every file goes to the background
    yield
    config["BHASILE_IMPORT_BACKGROUND_BYTES"] = previous


def _calvados_structure(live_server) -> tuple[str, str]:
    from app.extensions import db

    with live_server.app.app_context():
        code, nom = db.session.execute(
            select(Structure.code_dna, Structure.nom).join(Departement)
            .where(Departement.code == "14").order_by(Structure.code_dna).offset(3).limit(1)).one()
        db.session.remove()
    return code, nom


def _notes(live_server, code: str) -> str | None:
    from app.extensions import db

    with live_server.app.app_context():
        notes = db.session.scalar(select(Structure.notes).where(Structure.code_dna == code))
        db.session.remove()
    return notes


def test_a_large_import_is_followed_then_applied_in_the_background(open_page, live_server,
                                                                   everything_large, tmp_path):
    from playwright.sync_api import expect

    code, nom = _calvados_structure(live_server)
    book = openpyxl.Workbook()
    book.active.title = "Structures"
    book.active.append(["Code DNA", "Nom", "Notes"])
    book.active.append([code, nom, "Relancé par courrier le 3 décembre"])
    path = tmp_path / "suivi.xlsx"
    book.save(path)

    page = open_page("calvados")
    page.goto("/imports/")
    page.set_input_files("#fichier", str(path))
    with page.expect_navigation():
        page.get_by_role("button", name="Vérifier le fichier (aperçu)").click()
    # the progress page reloads itself into the preview once the worker is done
    apply = page.get_by_role("button", name="Appliquer l'import (1 lignes)")
    expect(apply).to_be_visible(timeout=60000)
    expect(page.locator("body")).to_contain_text("Lignes par feuille")
    assert _notes(live_server, code) != "Relancé par courrier le 3 décembre"   # nothing written yet

    with page.expect_navigation():
        apply.click()
    expect(page.locator("body")).to_contain_text("Import appliqué", timeout=60000)
    assert _notes(live_server, code) == "Relancé par courrier le 3 décembre"
    assert not [p for p in page.problems if "Content Security Policy" in p]
