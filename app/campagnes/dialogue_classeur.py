"""The « Budget prévisionnel » sheet: an opérateur downloads it pre-filled for one structure and
year, fills the amounts in a spreadsheet program, and files it back.

Rows are matched by line code (column A) or, when the code was lost, by the line's label
compared as the import compares headers (``app.sheets.normalize.header_key``); amounts are
read with the import's number parser (``app.sheets.kinds``). The file is read by
python-calamine, like every import, never by an office program.
"""
from __future__ import annotations

import io
from typing import IO, Any

import python_calamine
import xlsxwriter
from flask_babel import gettext as _

from app.campagnes.dialogue import BY_CODE, LIGNES, DialogueError
from app.sheets.normalize import header_key
from models.dialogue import DialogueBudgetaire

SHEET = "Budget prévisionnel"
FIRST_ROW = 4   #: 0-based row of the first line (title, structure, headers above)
MAX_BYTES = 2 * 1024 * 1024


def write_sheet(dialogue: DialogueBudgetaire, out: IO[bytes]) -> None:
    """The sheet of this dialogue, with the amounts already filed (if any)."""
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet(SHEET)
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "# ##0.00", "locked": False, "bg_color": "#FFFDE7"})
    structure = dialogue.structure
    sheet.write(0, 0, _("Budget prévisionnel %(y)s", y=dialogue.annee), bold)
    sheet.write(1, 0, _("Code DNA"), bold)
    sheet.write_string(1, 1, structure.code_dna)
    sheet.write(1, 2, _("Année"), bold)
    sheet.write_number(1, 3, dialogue.annee)
    sheet.write_row(3, 0, [_("Code"), _("Ligne"), _("Montant demandé")], bold)
    for i, ligne in enumerate(LIGNES):
        stored = dialogue.ligne(ligne.code)
        sheet.write_string(FIRST_ROW + i, 0, ligne.code)
        sheet.write_string(FIRST_ROW + i, 1, str(ligne.label))
        if stored is not None and stored.demande is not None:
            sheet.write_number(FIRST_ROW + i, 2, float(stored.demande), money)
        else:
            sheet.write_blank(FIRST_ROW + i, 2, None, money)
    sheet.set_column(0, 0, 20)
    sheet.set_column(1, 1, 62)
    sheet.set_column(2, 2, 20)
    book.close()


def _rows(data: bytes) -> list[list[Any]]:
    if len(data) > MAX_BYTES:
        raise DialogueError([_("Le classeur est trop volumineux (2 Mo au plus).")])
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = book.sheet_names
        name = SHEET if SHEET in names else names[0]
        return book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except Exception:  # calamine raises its own errors on anything that is no workbook
        raise DialogueError([_("Ce fichier n'est pas un classeur lisible (attendu : .xlsx, .xls ou .ods).")]) from None


def read_sheet(dialogue: DialogueBudgetaire, data: bytes) -> dict[str, Any]:
    """The amounts of the sheet, by line code; the sheet must be this structure's and year's."""
    rows = _rows(data)
    errors = []
    code = str(rows[1][1]).strip() if len(rows) > 1 and len(rows[1]) > 1 else ""
    year = rows[1][3] if len(rows) > 1 and len(rows[1]) > 3 else None
    if code != dialogue.structure.code_dna or str(year).split(".")[0] != str(dialogue.annee):
        errors.append(_("Ce classeur n'est pas celui de la structure %(c)s pour %(y)s (il indique %(f)s %(g)s).",
                        c=dialogue.structure.code_dna, y=dialogue.annee, f=code[:20] or "?",
                        g=str(year)[:6] if year not in (None, "") else "?"))
    by_label = {header_key(str(ligne.label))[0]: ligne.code for ligne in LIGNES}
    values: dict[str, Any] = {}
    for row in rows[FIRST_ROW - 1:]:
        cells = list(row) + [None] * 3
        key = str(cells[0] or "").strip()
        found = key if key in BY_CODE else by_label.get(header_key(str(cells[1] or ""))[0])
        if found and cells[2] not in (None, ""):
            values[found] = cells[2]
    if not values and not errors:
        errors.append(_("Aucun montant trouvé dans la feuille « %(s)s ».", s=SHEET))
    if errors:
        raise DialogueError(errors)
    return values
