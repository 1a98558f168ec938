"""The annotated file: the agent's workbook written back as .xlsx, whatever it came as (.xlsx,
.xls, .ods, .csv), with every error cell in red, the message as a cell comment, and an
``Erreurs`` sheet listing them all.

The cells are the ones the import itself read (``imports.reader``, one parser for the preview,
the apply and this file), so the red cell is the cell the preview spoke of. Values, merged cells
and hidden sheets are kept; the original styling is not.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from typing import Iterable, Optional

import xlsxwriter

from .reader import NO_VALUE, ExcelError, Limits, RawSheet, read_file
from .result import CellIssue

RED = "#FFC7CE"
ORANGE = "#FFEB9C"     #: a remark, not an error: a conflict, a value kept, a row « à vérifier »
_BAD_NAME = re.compile(r"[\[\]:*?/\\]")


#: the sheet of the annotated file listing every error, and its header row
ERRORS_SHEET = "Erreurs"
ERRORS_HEADERS = ("Feuille du fichier", "Feuille BHasile", "Ligne", "Colonne", "Valeur", "Erreur")


def is_errors_sheet(raw: RawSheet) -> bool:
    """The « Erreurs » sheet ``annotate`` wrote (a previous preview's errors, the agent's file
    corrected and imported again): never data, whatever its cells look like."""
    if raw.name != ERRORS_SHEET or not raw.rows or raw.rows[0][0] != 1:
        return False
    cells = raw.rows[0][1][:len(ERRORS_HEADERS)]
    return tuple(c.strip() if isinstance(c, str) else c for c in cells) == ERRORS_HEADERS


def _sheet_names(raws: list[RawSheet]) -> dict[str, str]:
    """Each sheet's name in the written file: Excel's 31 characters, unique, never « Erreurs »."""
    taken, out = {"erreurs"}, {}
    for raw in raws:
        base = _BAD_NAME.sub("_", raw.name).strip("'")[:31] or "Feuille"
        name, n = base, 1
        while name.lower() in taken:
            n += 1
            name = f"{base[:27]} ({n})"
        taken.add(name.lower())
        out[raw.name] = name
    return out


def _limits() -> tuple[int, int, Optional[Limits]]:
    try:
        from flask import current_app

        config = current_app.config
        return (config["BHASILE_IMPORT_MAX_ROWS"], config["BHASILE_IMPORT_MAX_UNZIPPED_MB"],
                Limits(cells=config.get("BHASILE_IMPORT_MAX_CELLS", Limits.cells),
                       text_mb=config.get("BHASILE_IMPORT_MAX_TEXT_MB", Limits.text_mb)))
    except (RuntimeError, KeyError):
        return 10 ** 7, 10 ** 4, None


def annotate(data: bytes, filename: str, errors: Iterable[CellIssue],
             notes: Iterable[CellIssue] = ()) -> bytes:
    """The file back as .xlsx with its errors marked in red and ``notes`` (conflicts, values
    kept, rows « à vérifier ») in orange, each message as the cell's comment (the values
    themselves untouched)."""
    max_rows, max_mb, limits = _limits()
    raws = [raw for raw in read_file(data, filename, max_rows, max_mb, limits)
            if raw.name != ERRORS_SHEET]
    errors = list(errors)
    names = _sheet_names(raws)
    at: dict[tuple[str, int, int], list[str]] = {}
    for e in errors:
        at.setdefault((e.source_sheet, e.row, (e.col or 1) - 1), []).append(e.message)
    remarks: set[tuple[str, int, int]] = set()
    for e in notes:
        where = (e.source_sheet, e.row, (e.col or 1) - 1)
        if where not in at:          # a cell with an error stays red
            remarks.add(where)
        at.setdefault(where, []).append(e.message)

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "constant_memory": True,
                                     "strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    bold = book.add_format({"bold": True})
    red = book.add_format({"bg_color": RED})
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    red_date = book.add_format({"num_format": "dd/mm/yyyy", "bg_color": RED})
    orange = book.add_format({"bg_color": ORANGE})
    orange_date = book.add_format({"num_format": "dd/mm/yyyy", "bg_color": ORANGE})
    _errors_sheet(book, bold, errors, names)
    for raw in raws:
        ws = book.add_worksheet(names[raw.name])
        if raw.hidden:
            ws.hide()
        marks: dict[int, dict[int, list[str]]] = {}
        for (sheet, r, c), messages in at.items():
            if sheet == raw.name:
                marks.setdefault(r, {})[c] = messages
        rows = {number: values for number, values in raw.rows}
        for number in sorted(set(rows) | set(marks)):
            values = rows.get(number, ())
            flagged = marks.get(number, {})
            for col in sorted(set(range(len(values))) | set(flagged)) if flagged else range(len(values)):
                value = values[col] if col < len(values) else None
                if col in flagged:
                    remark = (raw.name, number, col) in remarks
                    _write(ws, number - 1, col, value, orange if remark else red,
                           orange_date if remark else red_date)
                    ws.write_comment(number - 1, col, "\n".join(flagged[col]),
                                     {"author": "BHasile", "x_scale": 2, "y_scale": 1.5})
                elif value is not None:
                    _write(ws, number - 1, col, value, None, date)
        for r1, c1, r2, c2 in raw.merged:
            if (r1, c1) != (r2, c2):
                first = rows.get(r1, ())
                value = first[c1 - 1] if c1 - 1 < len(first) else None
                _merge(ws, r1 - 1, c1 - 1, r2 - 1, c2 - 1, value)
    book.close()
    return out.getvalue()


def _errors_sheet(book, bold, errors: list[CellIssue], names: dict[str, str]) -> None:
    ws = book.add_worksheet(ERRORS_SHEET)
    ws.write_row(0, 0, ERRORS_HEADERS, bold)
    for width, col in zip((20, 14, 8, 24, 20, 70), range(6)):
        ws.set_column(col, col, width)
    ws.freeze_panes(1, 0)
    for n, e in enumerate(errors, 1):
        ws.write_string(n, 0, names.get(e.source_sheet, e.source_sheet))
        ws.write_string(n, 1, e.sheet)
        ws.write_number(n, 2, e.row)
        ws.write_string(n, 3, e.column or "")
        _write(ws, n, 4, e.value, None, None)
        ws.write_string(n, 5, e.message)


def _write(ws, row: int, col: int, value, fmt, date_fmt) -> None:
    if value is None or value is NO_VALUE:
        if fmt is not None:
            ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            ws.write_string(row, col, str(value), fmt)
        else:
            ws.write_number(row, col, value, fmt)
    elif isinstance(value, (dt.datetime, dt.date)) and 1900 <= value.year <= 9999:
        ws.write_datetime(row, col, value, date_fmt)
    elif isinstance(value, ExcelError):
        ws.write_string(row, col, value.code, fmt)
    else:
        ws.write_string(row, col, str(value)[:32_767], fmt)


def _merge(ws, r1: int, c1: int, r2: int, c2: int, value) -> None:
    try:
        if value is None or value is NO_VALUE:
            ws.merge_range(r1, c1, r2, c2, "")
        else:
            ws.merge_range(r1, c1, r2, c2, value if isinstance(value, (int, float, str)) else str(value))
    except Exception:   # overlapping or out-of-order ranges: the values are already there
        pass
