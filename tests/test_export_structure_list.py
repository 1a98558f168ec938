"""The structure list's Exporter button exports exactly the filtered rows, in the list's order."""
from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import select


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
