"""Empty canonical workbooks to fill in: headers, drop-down lists, an instructions sheet."""
from __future__ import annotations

from typing import IO, Any, Optional, Sequence, Union

import xlsxwriter

from app.scope import condition_for
from app.sheets import SCHEMA_VERSION, SHEETS, Lookups, Sheet
from app.sheets.kinds import Code
from models import Operateur

from .writer import META_SHEET

TEMPLATE_ROWS = 10000
INSTRUCTIONS = [
    "Classeur BHasile — modèle à remplir",
    "",
    "Une feuille par type de données ; la première ligne porte les en-têtes : ne les modifiez pas.",
    "Chaque ligne est identifiée par sa clé (en gras dans la liste ci-dessous) : une clé connue met "
    "la ligne à jour, une clé nouvelle la crée. Les lignes absentes du fichier ne sont jamais supprimées.",
    "Une colonne absente laisse la donnée telle quelle ; une cellule vide dans une colonne présente "
    "efface la donnée.",
    "Dates au format jj/mm/aaaa ; mois au format mm/aaaa ; Oui/Non ; listes déroulantes pour les "
    "valeurs permises. Les codes (DNA, FINESS, SIRET, code postal, département) sont du texte.",
    "Importez le fichier depuis la page « Imports » : un aperçu montre chaque modification et "
    "chaque erreur avant que rien ne soit écrit.",
    "",
]


def _lists(book, ws_lists, lookups: Optional[Lookups], sheets: Sequence[Sheet]) -> dict:
    """Long choice lists go on a hidden sheet (Excel limits inline lists to 255 characters)."""
    ranges, col = {}, 0
    for sheet in sheets:
        for column in sheet.columns:
            choices = column.kind.choices(lookups)
            if not choices or column.field in ranges:
                continue
            ws_lists.write_string(0, col, column.label)
            for r, choice in enumerate(choices, 1):
                ws_lists.write_string(r, col, choice)
            letter = xlsxwriter.utility.xl_col_to_name(col)
            ranges[column.field] = f"=_listes!${letter}$2:${letter}${len(choices) + 1}"
            col += 1
    return ranges


def write_template(target: Union[str, IO[bytes]], lookups: Optional[Lookups] = None,
                   names: Optional[Sequence[str]] = None) -> None:
    """Write the empty workbook (all sheets, or those named)."""
    sheets = [s for s in SHEETS if not names or s.name in names]
    book = xlsxwriter.Workbook(target, {"strings_to_formulas": False})
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text = book.add_format({"num_format": "@"})
    info = book.add_worksheet("Instructions")
    info.set_column(0, 0, 110)
    for r, line in enumerate(INSTRUCTIONS):
        info.write_string(r, 0, line, bold if r == 0 else None)
    r = len(INSTRUCTIONS)
    for sheet in sheets:
        keys = ", ".join(sheet.by_field[f].label for f in sheet.key)
        info.write_string(r, 0, f"{sheet.name} — clé : {keys} — colonnes : "
                          + ", ".join(c.label for c in sheet.columns), None)
        r += 1
    ws_lists = book.add_worksheet("_listes")
    ranges = _lists(book, ws_lists, lookups, sheets)
    for sheet in sheets:
        ws = book.add_worksheet(sheet.name)
        for c, column in enumerate(sheet.columns):
            ws.write_string(0, c, column.label, bold)
            ws.set_column(c, c, max(column.kind.width, len(column.label) + 2),
                          text if isinstance(column.kind, Code) else None)
            if column.field in ranges:
                ws.data_validation(1, c, TEMPLATE_ROWS, c, {
                    "validate": "list", "source": ranges[column.field], "error_type": "warning",
                    "error_title": column.label, "error_message": "Valeur hors de la liste."})
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, 0, len(sheet.columns) - 1)
    meta = book.add_worksheet(META_SHEET)
    meta.write_string(0, 0, "schema_version")
    meta.write_string(0, 1, SCHEMA_VERSION)
    meta.hide()
    ws_lists.hide()
    book.close()


def template_for(session: Any, target: Union[str, IO[bytes]], scope: Any,
                 names: Optional[Sequence[str]] = None) -> None:
    """The template for a user: drop-downs list only the opérateurs of their territory."""
    from sqlalchemy import select


    lookups = Lookups(session)
    if not scope.national:
        allowed = set(session.scalars(select(Operateur.id).where(condition_for(Operateur, scope))))
        lookups.operateurs = {k: v for k, v in lookups.operateurs.items() if v[0] in allowed}
    write_template(target, lookups, names)
