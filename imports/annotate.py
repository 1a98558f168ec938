"""The annotated file: the agent's own workbook with every error cell in red, the message as a
cell comment, and an ``Erreurs`` sheet listing them all."""
from __future__ import annotations

import io
from typing import Iterable

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill

from .reader import NO_VALUE, ExcelError, read_file
from .result import CellIssue

RED = PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")


def _workbook(data: bytes, filename: str):
    if data[:4] == b"PK\x03\x04" and not filename.lower().endswith(".ods"):
        return openpyxl.load_workbook(io.BytesIO(data))
    book = openpyxl.Workbook()
    book.remove(book.active)
    for sheet in read_file(data, filename, 10 ** 7, 10 ** 4):
        ws = book.create_sheet(sheet.name[:31])
        for number, values in sheet.rows:
            for col, value in enumerate(values, 1):
                if value is not None and value is not NO_VALUE:
                    ws.cell(number, col, str(value) if isinstance(value, ExcelError) else value)
    return book


def annotate(data: bytes, filename: str, errors: Iterable[CellIssue]) -> bytes:
    """The file back as .xlsx with its errors marked (the data itself untouched)."""
    book = _workbook(data, filename)
    errors = list(errors)
    for error in errors:
        if error.source_sheet not in book.sheetnames:
            continue
        cell = book[error.source_sheet].cell(error.row, error.col or 1)
        cell.fill = RED
        text = f"{cell.comment.text}\n{error.message}" if cell.comment else error.message
        cell.comment = Comment(text, "BHasile", width=300, height=80)
    if "Erreurs" in book.sheetnames:
        del book["Erreurs"]
    ws = book.create_sheet("Erreurs", 0)
    ws.append(["Feuille du fichier", "Feuille BHasile", "Ligne", "Colonne", "Valeur", "Erreur"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for e in errors:
        value = e.value if isinstance(e.value, (int, float, str)) or e.value is None else str(e.value)
        ws.append([e.source_sheet, e.sheet, e.row, e.column, value, e.message])
    for letter, width in zip("ABCDEF", (20, 14, 8, 24, 20, 70)):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
