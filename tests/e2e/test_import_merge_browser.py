"""An agent imports an old export of the Calvados list in the browser: two cells were changed
both in the file and in BHasile since the export; « Appliquer » is refused until a value is
chosen for each, then the file's value is written where the agent kept theirs and BHasile's
stays where the agent kept BHasile's."""
from __future__ import annotations

import io

import openpyxl
from sqlalchemy import select

from models import Departement, Structure


def _codes(live_server) -> list[str]:
    """Two Calvados structures no other browser test edits (the last ones by code)."""
    with live_server.app.app_context():
        from app.extensions import db

        codes = db.session.scalars(select(Structure.code_dna).join(Departement)
                                   .where(Departement.code == "14")
                                   .order_by(Structure.code_dna.desc()).limit(2)).all()
        db.session.remove()
    return list(codes)


def _export(live_server) -> bytes:
    from app.extensions import db
    from exports.workbook import export_workbook
    from imports.cli import user_scope

    with live_server.app.app_context():
        scope, _user = user_scope("calvados")
        out = io.BytesIO()
        export_workbook(db.session, out, scope, sheets=["Structures"], user="calvados")
        db.session.remove()
    return out.getvalue()


def _communes(live_server, codes: list[str], values: list[str] | None = None) -> list[str]:
    """The communes of ``codes`` as stored (set to ``values`` first, as another agent would)."""
    from app.extensions import db

    with live_server.app.app_context():
        found = db.session.scalars(select(Structure).where(Structure.code_dna.in_(codes)))
        rows = {s.code_dna: s for s in found}
        if values:
            for code, value in zip(codes, values):
                rows[code].commune = value
            db.session.commit()
        communes = [rows[code].commune for code in codes]
        db.session.remove()
    return communes


def test_old_export_with_conflicts_is_applied_after_choosing_per_cell(open_page, live_server, tmp_path):
    from playwright.sync_api import expect

    mine, theirs = _codes(live_server)
    book = openpyxl.load_workbook(io.BytesIO(_export(live_server)))
    ws = book["Structures"]
    headers = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[0].value in (mine, theirs):
            row[headers.index("Commune")].value = f"Fichier {row[0].value}"
    path = tmp_path / "calvados-ancien.xlsx"
    book.save(path)
    _communes(live_server, [mine, theirs], [f"BHasile {mine}", f"BHasile {theirs}"])

    page = open_page("calvados")
    page.goto("/imports/")
    page.set_input_files("#fichier", str(path))
    with page.expect_navigation():
        page.get_by_role("button", name="Vérifier le fichier (aperçu)").click()
    conflicts = page.locator("#conflits + p + form table, #conflits ~ form table").first
    expect(conflicts).to_contain_text(f"votre fichier : Fichier {mine} / BHasile : BHasile {mine}")
    expect(conflicts).to_contain_text(f"votre fichier : Fichier {theirs} / BHasile : BHasile {theirs}")

    with page.expect_navigation():
        page.get_by_role("button", name="Appliquer l'import").click()
    expect(page.locator(".fr-alert, [role=alert]").first).to_contain_text(
        "Choisissez une valeur pour chaque conflit")
    assert _communes(live_server, [mine, theirs]) == [f"BHasile {mine}", f"BHasile {theirs}"]

    rows = page.locator("#conflits ~ form tbody tr")
    rows.filter(has_text=f"Fichier {mine}").get_by_text("garder ma valeur").click()
    rows.filter(has_text=f"Fichier {theirs}").get_by_text("garder la valeur de BHasile").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Enregistrer mes choix").click()
    expect(page.locator(".fr-alert, [role=alert]").first).to_contain_text("Choix enregistrés")
    with page.expect_navigation():
        page.get_by_role("button", name="Appliquer l'import").click()
    expect(page.locator(".fr-alert, [role=alert]").first).to_contain_text("Import appliqué")
    assert _communes(live_server, [mine, theirs]) == [f"Fichier {mine}", f"BHasile {theirs}"]
    assert page.problems == []
