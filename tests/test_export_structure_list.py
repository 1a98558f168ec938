"""The structure list's Exporter button exports exactly the filtered rows, in the list's order."""
from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from app.sheets.fingerprint import LABEL


def _codes(response) -> list[str]:
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    sheet = book[book.sheetnames[0]]
    return [row[0] for row in sheet.iter_rows(min_row=2, values_only=True) if row and row[0]]


def test_exporter_button_keeps_the_list_filters_and_sort(app, login):
    client = login("centrale")
    page = client.get("/structureview/list/?type=CPH&sort=code_dna&dir=desc").get_data(as_text=True)
    link = re.search(r'href="(/exporter/vue/StructureView/[^"]*)"', page)
    assert link, "no Exporter button on the structure list"
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    codes = _codes(response)
    with app.app_context():
        from app.extensions import db
        from models import Structure
        from models.enums import TypeStructure

        expected = db.session.scalars(select(Structure.code_dna).where(
            Structure.type == TypeStructure.CPH).order_by(Structure.code_dna.desc())).all()
    assert codes == expected


def test_the_export_holds_the_columns_the_list_shows_and_imports_back_untouched(app, login, tmp_path):
    """Bâti, communes and the places of the latest year are on the list: they are in its export
    too (after the Structures columns), and importing the file back changes and warns nothing."""
    import json

    from tests.conftest import run_cli

    client = login("calvados")
    page = client.get("/structureview/list/?sort=places_latest&dir=desc").get_data(as_text=True)
    link = re.search(r'href="(/exporter/vue/StructureView/[^"]*)"', page)
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    sheet = book["Structures"]
    headers = [c.value for c in sheet[1]]
    assert headers[-4:] == ["Bâti", "Communes", "Places autorisées (dernière année)", LABEL]
    rows = [dict(zip(headers, [c.value for c in row])) for row in sheet.iter_rows(min_row=2)]
    with app.app_context():
        from app.scope import NATIONAL
        from views import structure_list as sl

        args = sl.ListArgs(sort="places_latest", desc=True, psize=10**6)
        with app.test_request_context():
            _count, listed = sl.fetch(args, NATIONAL)
        shown = {r.structure.code_dna: r for r in listed}
    assert rows and all(r["Places autorisées (dernière année)"] == shown[r["Code DNA"]].places_latest
                        for r in rows)
    assert all((r["Communes"] or "") == ", ".join(shown[r["Code DNA"]].communes) for r in rows)
    path = tmp_path / "liste.xlsx"
    path.write_bytes(response.data)
    result = run_cli(app, "bhasile", "import", str(path), "--dry-run", "--json")
    report = json.loads(result.output)
    assert result.exit_code == 0, report
    assert report["changes"] == [] and report["errors"] == [] and report["warnings"] == []
