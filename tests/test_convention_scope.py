"""A CPOM covering structures of several départements (W1): an agent sees, exports, re-imports
and changes only the structures of their own territory; the others stay covered, unseen."""
from __future__ import annotations

import io
import json

import openpyxl
import pytest
from sqlalchemy import select

from tests.conftest import client_for, run_cli
from tests.test_import_gate import (annotated_text, assert_absent, assert_same, cli_import,
                                    snapshot, web_import, workbook)

REFERENCE = "CPOM-2025-MIXTE"
HEADERS = ["Référence", "Type", "Codes DNA"]


def _cpom(app) -> dict:
    """A CPOM covering one Calvados structure and one Paris structure (created nationally)."""
    from app.extensions import db
    from models import Convention, ConventionStructure, Departement, Structure
    from models.enums import StatutConvention, TypeConvention

    with app.app_context():
        s = db.session

        def structures(dep: str) -> list:
            return s.scalars(select(Structure).join(Departement).where(Departement.code == dep)
                             .order_by(Structure.code_dna).limit(2)).all()

        (mine, other_mine), (paris, other_paris) = structures("14"), structures("75")
        cpom = Convention(reference=REFERENCE, type=TypeConvention.CPOM,
                          statut=StatutConvention.SIGNEE, operateur_id=mine.operateur_id)
        cpom.structures = [ConventionStructure(structure_id=mine.id),
                           ConventionStructure(structure_id=paris.id)]
        s.add(cpom)
        s.commit()
        out = {"id": cpom.id, "mine": mine.code_dna, "other_mine": other_mine.code_dna,
               "paris": paris.code_dna, "paris_nom": paris.nom, "other_paris": other_paris.code_dna,
               "link_mine": cpom.structures[0].id, "link_paris": cpom.structures[1].id}
        s.remove()
        return out


def _covered(app) -> set[str]:
    from app.extensions import db
    from models import Convention, ConventionStructure, Structure

    with app.app_context():
        found = set(db.session.scalars(select(Structure.code_dna).join(ConventionStructure)
                                       .join(Convention).where(Convention.reference == REFERENCE)))
        db.session.remove()
        return found


def _exported_codes(app, tmp_path, *user: str) -> str:
    out = tmp_path / "conventions.xlsx"
    result = run_cli(app, "bhasile", "export", str(out), "--sheet", "Conventions", *user)
    assert result.exit_code == 0, result.output
    ws = openpyxl.load_workbook(out)["Conventions"]
    headers = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == REFERENCE)
    return row[headers.index("Codes DNA")]


@pytest.fixture()
def cpom_app(fresh_app):
    fresh_app.cpom = _cpom(fresh_app)
    return fresh_app


def test_an_agent_exports_only_the_codes_of_their_territory(cpom_app, tmp_path):
    c = cpom_app.cpom
    assert _exported_codes(cpom_app, tmp_path, "--user", "calvados") == c["mine"]
    assert _exported_codes(cpom_app, tmp_path) == ", ".join(sorted([c["mine"], c["paris"]]))
    web = client_for(cpom_app, "calvados").get("/exporter/vue/ConventionView/")
    assert web.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(web.data))
    text = " ".join(str(v) for ws in book.worksheets for r in ws.iter_rows(values_only=True) for v in r)
    assert c["mine"] in text and c["paris"] not in text


def test_the_fiche_and_the_api_list_only_the_territorys_structures(cpom_app):
    c = cpom_app.cpom
    client = client_for(cpom_app, "calvados")
    api = client.get(f"/api/v1/convention/{c['id']}").get_json()
    assert [link["id"] for link in api["result"]["structures"]] == [c["link_mine"]]
    page = client.get(f"/conventionview/show/{c['id']}").get_data(as_text=True)
    assert c["mine"] in page
    assert_absent(page, c["paris"], c["paris_nom"])
    national = client_for(cpom_app, "centrale").get(f"/api/v1/convention/{c['id']}").get_json()
    assert {link["id"] for link in national["result"]["structures"]} == {c["link_mine"], c["link_paris"]}


def test_the_exported_cpom_line_reimported_is_unchanged(cpom_app, tmp_path):
    out = tmp_path / "conventions.xlsx"
    assert run_cli(cpom_app, "bhasile", "export", str(out), "--sheet", "Conventions",
                   "--user", "calvados").exit_code == 0
    before = snapshot(cpom_app)
    result = cli_import(cpom_app, tmp_path, out.read_bytes(), "calvados", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["changes"] == [] and summary["errors"] == [] and summary["warnings"] == []
    assert summary["sheets"]["Conventions"]["unchanged"] > 0
    assert_same(cpom_app, before)


def test_a_code_of_the_territory_added_then_removed_leaves_the_others_covered(cpom_app, tmp_path):
    c = cpom_app.cpom
    added = workbook(Conventions=[HEADERS, [REFERENCE, "CPOM", f"{c['mine']}, {c['other_mine']}"]])
    preview = cli_import(cpom_app, tmp_path, added, "calvados", "--dry-run", "--json")
    change = json.loads(preview.output)["changes"]
    assert change == [{"sheet": "Conventions", "key": [REFERENCE], "status": "updated", "row": 2,
                       "fields": {"Codes DNA": [c["mine"], ", ".join(sorted([c["mine"], c["other_mine"]]))]}}]
    assert cli_import(cpom_app, tmp_path, added, "calvados").exit_code == 0
    assert _covered(cpom_app) == {c["mine"], c["other_mine"], c["paris"]}
    removed = workbook(Conventions=[HEADERS, [REFERENCE, "CPOM", c["other_mine"]]])
    assert cli_import(cpom_app, tmp_path, removed, "calvados").exit_code == 0
    assert _covered(cpom_app) == {c["other_mine"], c["paris"]}


def test_a_code_outside_the_territory_is_refused_and_nothing_written(cpom_app, tmp_path):
    c = cpom_app.cpom
    before = snapshot(cpom_app)
    messages = []
    for outside in (c["other_paris"], c["paris"]):   # covered or not: the same refusal
        data = workbook(Conventions=[HEADERS, [REFERENCE, "CPOM", f"{c['mine']}, {outside}"]])
        result = cli_import(cpom_app, tmp_path, data, "calvados", "--json")
        assert result.exit_code == 1, result.output
        errors = json.loads(result.output)["errors"]
        assert [(e["column"], e["row"]) for e in errors] == [("Codes DNA", 2)]
        assert "hors de votre périmètre" in errors[0]["message"] and outside in errors[0]["message"]
        messages.append(errors[0]["message"].replace(outside, "X"))
    assert messages[0] == messages[1]
    assert_same(cpom_app, before)


def test_the_preview_and_annotated_file_name_no_structure_outside(cpom_app):
    c = cpom_app.cpom
    client = client_for(cpom_app, "calvados")
    data = workbook(Conventions=[HEADERS, [REFERENCE, "CPOM", c["other_mine"]]])
    batch, page = web_import(client, data)
    assert c["other_mine"] in page and c["mine"] in page   # old → new, the territory's codes
    assert_absent(page, c["paris"], c["paris_nom"])
    bad = workbook(Conventions=[HEADERS, [REFERENCE, "CPOM", c["other_mine"]],
                                [REFERENCE, "CPOM", "abc,"]])
    batch, page = web_import(client, bad)
    assert_absent(page + annotated_text(client, batch), c["paris"], c["paris_nom"])
